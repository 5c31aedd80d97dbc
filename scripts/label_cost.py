"""What the label term costs per training step: forward and backward of a batch, with and without it.

    python scripts/label_cost.py --set names_by_language            # configs/labelled.yaml's GRU, batch 64

The same batches of the set's training split go through the loss at ``--model.label_weight 0`` and
``1``, alternately (so a machine shared with other work slows both alike), and the median time of a
step (loss, backward, optimizer step) of each is printed with their ratio. The term runs the batch
once more under every label: its cost grows with the number of labels.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.records import Batch, Labels
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.models import GRU
from makemore_pl.models.classifier import with_label_term

REPO = Path(__file__).resolve().parents[1]


def word_batch(data: WordsDataModule, pairs: list[tuple[str, str]]) -> Batch:
    """A batch of whole words as the data module's word batches are: (x, y, count, total, Labels)."""
    words = [word for word, _ in pairs]
    x, y = Vocabulary(data.vocab).encode_padded(words, max(map(len, words)) + 1)
    return Batch(x, y, None, torch.tensor(float(sum(len(w) + 1 for w in words))), Labels(data.label_ids(pairs)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="names_by_language", help="data/<set>.tsv")
    parser.add_argument("--steps", type=int, default=60, help="steps timed for each weight")
    parser.add_argument("--batch_size", type=int, default=64)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    data = WordsDataModule(str(REPO / "data" / f"{args.set}.tsv"), labelled=True)
    pairs = data.split_pairs()["train"]
    order = torch.randperm(len(pairs)).tolist()
    starts = range(0, len(pairs), args.batch_size)
    batches = [word_batch(data, [pairs[i] for i in order[start : start + args.batch_size]]) for start in starts]
    # configs/labelled.yaml's GRU: embedding 64, hidden 128, one layer, dropout 0.1.
    models = {
        weight: GRU(data.vocab, labels=data.labels, embedding=64, hidden=128, dropout=0.1, label_weight=weight)
        for weight in (0.0, 1.0)
    }
    optimizers = {weight: torch.optim.AdamW(model.parameters(), lr=1e-3) for weight, model in models.items()}
    times: dict[float, list[float]] = {weight: [] for weight in models}
    for step in range(args.steps + 5):
        batch = batches[step % len(batches)]
        for weight, model in models.items():
            start = time.perf_counter()
            nll = model.nll(batch)
            loss, _ = with_label_term(model, batch, nll, nll)
            loss.backward()
            optimizers[weight].step()
            optimizers[weight].zero_grad()
            if step >= 5:  # the first steps warm up the allocator
                times[weight].append(time.perf_counter() - start)
    plain, term = (statistics.median(times[w]) * 1000 for w in (0.0, 1.0))
    print(
        f"{args.set}: {len(data.labels)} labels, batch {args.batch_size}: {plain:.1f} ms per step without the term, "
        f"{term:.1f} ms with it ({term / plain:.1f}x), median of {args.steps} steps, torch threads "
        f"{torch.get_num_threads()}"
    )


if __name__ == "__main__":
    main()
