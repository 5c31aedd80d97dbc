"""Where a checkpoint's nats go on a list's held-out words: known letters, new characters, the word's end.

    python scripts/finetune_breakdown.py data/finetune/fr_words_800.txt <scratch best.ckpt> <fine-tuned best.ckpt>

For each checkpoint, the mean NLL per predicted character on the list's test split (the split the
sweep's runs were cut with: 80/10/10 by word, seed 42), by what is predicted: a character that the
checkpoint's run started with a row for on both arms (``known``: in names.txt's vocabulary), one that
names.txt lacks (``new``), and the boundary that ends the word (``end``). docs/finetune.md uses it to
see which predictions the fine-tuned model loses on.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import torch
import torch.nn.functional as F

import makemore_pl
from makemore_pl.data.datamodule import WordsDataModule

NAMES_LETTERS = set("abcdefghijklmnopqrstuvwxyz")  # names.txt's characters: what is not new to the fine-tuned run


def breakdown(ckpt: str, words_file: str, split: str) -> dict[str, tuple[float, int]]:
    """Mean NLL and count of the predictions of ``split``'s words, by kind of target."""
    model = makemore_pl.load(ckpt)
    data = WordsDataModule(path=words_file, known_vocab=list(model.itos))
    stoi = {token: i for i, token in enumerate(model.itos)}
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for word in data.split_words()[split]:
        tokens = [0] + [stoi[c] for c in word]
        with torch.no_grad():
            logits = model.logits(torch.tensor([tokens]), None).float()[0]
        losses = F.cross_entropy(logits, torch.tensor([*tokens[1:], 0]), reduction="none")
        for target, loss in zip([*word, None], losses.tolist()):
            kind = "end" if target is None else "known" if target in NAMES_LETTERS else "new"
            for key in (kind, "all"):
                sums[key][0] += loss
                sums[key][1] += 1
    return {key: (total / count, int(count)) for key, (total, count) in sums.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words_file")
    parser.add_argument("ckpts", nargs="+")
    parser.add_argument("--split", default="test", choices=["val", "test"])
    args = parser.parse_args()
    print("| checkpoint | all | known letters | new characters | end of word |")
    print("|---|---|---|---|---|")
    for ckpt in args.ckpts:
        parts = breakdown(ckpt, args.words_file, args.split)
        cells = [f"{parts[k][0]:.3f} ({parts[k][1]})" for k in ("all", "known", "new", "end")]
        print(f"| {ckpt} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
