"""Screening variants of fine-tuning that are not options of makemore-pl: docs/finetune.md's study of French words.

    python scripts/finetune_screen.py --replay 0.25 -- --names_ckpt <ckpt> --kinds fr_words --sizes 800 \
        --seeds 0 --arms fine-tuned --tag replay25
    python scripts/finetune_screen.py --fresh network.rnn -- --names_ckpt <ckpt> ... --tag freshrnn

Everything after ``--`` goes to ``scripts/finetune_sweep.py`` (results in its ``results.jsonl``, under ``--tag``):

- ``--replay r``: a share ``r`` of every fine-tuned run's training split is names.txt words (the
  checkpoint's ``--data.path``, a fixed random sample, seed 0), added to the list's own: replaying the
  original words, to see whether they help the network on the new list. The epochs grow by as many
  steps; validation and test are the list's alone.
- ``--fresh PREFIX,...``: after the recipe starts the model, the parameters whose names start with a
  prefix go back to the model's own fresh initialisation, and the pull leaves them alone
  (``network.rnn``: a GRU's recurrent layer from scratch, its embedding and output layer from the checkpoint).

Both patch the package in this process (and the sweep's worker processes, forked from it), so that the
sweep runs them as it runs any variant; they screen ideas, the options ship only what won.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Any

import torch

from makemore_pl import recipe
from makemore_pl.callbacks.stay_near import StayNear
from makemore_pl.data.datamodule import WordsDataModule


def with_replay(share: float) -> None:
    """Every words file under ``data/finetune`` trains on its own split plus ``share`` of names.txt words."""
    split_words = WordsDataModule.split_words
    names = Path("data/names.txt").read_text().split()

    def replayed(data: WordsDataModule) -> dict[str, list[str]]:
        splits = split_words(data)
        if "finetune" not in data.path.parts:  # the checkpoint's own data, or anything else: as it is
            return splits
        count = round(len(splits["train"]) * share / (1 - share))
        return {**splits, "train": splits["train"] + random.Random(0).sample(names, count)}

    WordsDataModule.split_words = replayed  # type: ignore[method-assign]


def with_fresh(prefixes: list[str]) -> None:
    """Parameters named by ``prefixes`` start at the fresh model's values, outside the pull, after the recipe."""
    start = recipe.start

    def fresh_start(model: Any, trainer: Any, saved: dict, path: str, data: Any, options: Any) -> None:
        fresh = {name: p.detach().clone() for name, p in model.named_parameters()}
        start(model, trainer, saved, path, data, options)
        chosen = [name for name in fresh if name.startswith(tuple(prefixes))]
        print(f"--fresh: {', '.join(chosen)} start fresh", file=sys.stderr)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name in chosen:
                    p.copy_(fresh[name])
        for callback in trainer.callbacks:
            if isinstance(callback, StayNear):
                for name in chosen:
                    callback.start.pop(name, None)

    recipe.start = fresh_start  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replay", type=float, default=0.0, help="share of names.txt words in the training split")
    parser.add_argument("--fresh", default="", help="comma-separated parameter name prefixes that start fresh")
    parser.add_argument("sweep", nargs=argparse.REMAINDER, help="-- then scripts/finetune_sweep.py's arguments")
    args = parser.parse_args()
    if not 0 <= args.replay < 1:
        parser.error(f"--replay must be in [0, 1), got {args.replay}")
    if args.replay:
        with_replay(args.replay)
    if args.fresh:
        with_fresh(args.fresh.split(","))
    sys.path.insert(0, str(Path(__file__).parent))
    import finetune_sweep  # the sweep's workers fork from here: they run the patched package

    sys.argv = [finetune_sweep.__file__, *[a for a in args.sweep if a != "--"]]
    finetune_sweep.main()


if __name__ == "__main__":
    main()
