"""Continuing a prompt: ms per character at 256 and 1,024 characters, each family's decoder beside the naive one.

    python benchmarks/continuation.py                 # the table of docs/text_generation.md
    python benchmarks/continuation.py --threads 1     # on a machine shared with other work
    python benchmarks/continuation.py --device cuda   # on a GPU
    python benchmarks/continuation.py --quick         # small models, short texts: seconds

Every decoder writes through the same draw loop as ``continue_text`` (``continuation.draw``):
the family's own (``text_decoder``; a Transformer's both ways to slide), and ``Cropped``, which
runs the model from scratch on what it reads at every character (a recurrence: the whole text so
far; a Transformer: its last ``block_size``, as nanoGPT's ``generate``). Time linear in the length
makes the 1,024-character text take 4x the 256-character one. The last column says whether a
decoder drew the same 1,024 characters as the naive one from the same seed: it must, but for the
refill slide, which reads a shorter context half the time. The models are untrained, at the
sizes of the shipped text configs (nanoGPT's CPU Transformer); the weights do not change the time.
The decoders take turns, and each keeps its best round: on a shared machine, noise only slows.
"""

from __future__ import annotations

import argparse
import string
import time
from collections.abc import Callable

import torch
from common import quiet, ratio, synchronize

from makemore_pl.continuation import draw
from makemore_pl.models import GRU, MLP, BoW, LanguageModel, Transformer
from makemore_pl.models.text_decoding import Cropped, TextDecoder, text_decoder

# tinyshakespeare has 65 characters; which ones does not change the time.
VOCAB = ["\n", *(string.ascii_letters + " !$&',-.3:;?")]
assert len(VOCAB) == 65
NAIVE = "naive (re-run what it reads)"


def models(quick: bool) -> dict[str, LanguageModel]:
    """Untrained models of each way to decode, named by their sizes; ``quick`` makes them 4x narrower."""
    block, width, hidden = (16, 32, 64) if quick else (64, 128, 256)
    return {
        f"Transformer 4x{width}, context {block}": Transformer(VOCAB, block_size=block, width=width, layers=4, heads=4),
        f"GRU 2x{hidden}": GRU(VOCAB, block_size=block, embedding=64, hidden=hidden, layers=2),
        f"BoW {width}, context {block}": BoW(VOCAB, block_size=block, width=width, hidden=hidden),
        f"MLP {2 * hidden}, context 8": MLP(VOCAB, context=8, embedding=24, hidden=2 * hidden),
    }


def decoders(model: LanguageModel) -> dict[str, Callable[[list[int]], TextDecoder]]:
    chosen: dict[str, Callable[[list[int]], TextDecoder]] = {"own": lambda prompt: text_decoder(model, prompt)}
    if isinstance(model, Transformer):
        chosen = {
            "own (exact slide)": chosen["own"],
            "own (refill slide)": lambda prompt: text_decoder(model, prompt, slide="refill"),
        }
    return {**chosen, NAIVE: lambda prompt: Cropped(model, prompt)}


def write(make: Callable[[list[int]], TextDecoder], length: int, device: torch.device) -> tuple[float, list[int]]:
    """Seconds to write ``length`` characters after a one-character prompt, and the characters' ids."""
    synchronize(device)
    start = time.perf_counter()
    decoder = make([0])
    tokens = list(draw(decoder, length, torch.Generator().manual_seed(0)))
    synchronize(device)
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch's CPU threads (default: torch's choice)")
    parser.add_argument("--rounds", type=int, default=3, help="each decoder's best of this many rounds")
    parser.add_argument("--quick", action="store_true", help="small models, texts of 64 and 256: seconds")
    args = parser.parse_args()
    quiet()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    short, long = (64, 256) if args.quick else (256, 1024)
    print(f"device {device}, {torch.get_num_threads()} CPU threads, best of {args.rounds} rounds\n")
    print(f"| model | decoder | ms/char at {short} | ms/char at {long} | time {long} / time {short} | same text |")
    print("|---|---|---|---|---|---|")
    for name, model in models(args.quick).items():
        model = model.to(device).eval()
        with torch.no_grad():
            chosen = decoders(model)
            best = {(label, n): float("inf") for label in chosen for n in (short, long)}
            texts = {}
            for _ in range(args.rounds):
                for label, make in chosen.items():
                    for n in (short, long):
                        took, texts[label, n] = write(make, n, device)
                        best[label, n] = min(best[label, n], took)
        naive = texts[NAIVE, long]
        for label in chosen:
            a, b = best[label, short], best[label, long]
            same = "yes" if texts[label, long] == naive else "no"
            print(f"| {name} | {label} | {1000 * a / short:.3f} | {1000 * b / long:.3f} | {ratio(b, a)} | {same} |")


if __name__ == "__main__":
    main()
