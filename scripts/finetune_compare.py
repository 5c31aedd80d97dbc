"""Fine-tuned from names.txt against trained from scratch, on small word lists: the table of docs/finetune.md.

    python scripts/finetune_lists.py                       # data/it_surnames.txt, data/fr_words.txt
    python scripts/finetune_compare.py --config configs/gru.yaml

For each list, three models of the same config are tested on the list's held-out words (the same
80/10/10 split by word, seed 42):

- scratch: trained on the list alone;
- fine-tuned: ``fit --init_from`` the names.txt checkpoint, then trained on the list, by the recipe's
  defaults (``--finetune.*``, ``makemore_pl/recipe.py``; ``--tuned_extra`` changes them);
- unchanged: the names.txt model itself, with its vocabulary grown to the list's characters (new
  rows initialised as ``makemore_pl.finetune`` says) and no training: ``test --init_from``.

Scratch and fine-tuned runs get the same budget: the same epochs (so the same steps and the same
one-cycle schedule) and the same ``--trainer.max_time`` cap. They run one after the other, list by
list, in alternating order, or side by side with ``--jobs``, so that the machine's load (shared with
other work) weighs on both alike; the wall times are printed beside them. The names.txt checkpoint is
trained first when missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from makemore_pl.data.datamodule import WordsDataModule

LOGS = Path("lightning_logs/finetune")
ARMS = ["scratch", "fine-tuned", "unchanged"]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def makemore(*args: str) -> tuple[str, float]:
    """Run ``makemore-pl args``; its stdout and wall time. A failure stops the comparison with its stderr."""
    start = time.perf_counter()
    # One thread per run: side by side on a shared machine, torch's threads would only wait on each other.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "makemore_pl.cli", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"makemore-pl {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout, time.perf_counter() - start


def logged_to(folder: Path) -> list[str]:
    """Logger options that put a run in ``folder`` exactly (emptied first: each comparison starts afresh)."""
    shutil.rmtree(folder, ignore_errors=True)
    return [
        "--trainer.logger.init_args.save_dir", str(folder.parent.parent),
        "--trainer.logger.init_args.name", folder.parent.name,
        "--trainer.logger.init_args.version", folder.name,
    ]  # fmt: skip


def test_nll(out: str) -> float:
    return float(re.search(r"test/nll\D*?([0-9]+\.[0-9]+)", out).group(1))


def names_checkpoint(config: str, path: Path | None, extra: list[str]) -> Path:
    if path is not None:
        return path
    run = LOGS / "names" / Path(config).stem / "run"
    if not list(run.glob("checkpoints/best-*.ckpt")):
        print(f"training {config} on names.txt into {run}", file=sys.stderr)
        makemore("fit", "--config", config, *logged_to(run), *QUIET, *extra)
    return min(run.glob("checkpoints/best-*.ckpt"))


def run_arm(config: str, names: Path, words: Path, arm: str, args: argparse.Namespace) -> dict:
    """One model on one list: trained (scratch or fine-tuned) or the names.txt model unchanged; tested, sampled."""
    run = LOGS / words.stem / f"{Path(config).stem}_{arm}" / "run"
    if arm == "unchanged":
        grown = ["--config", config, "--init_from", str(names), "--data.path", str(words), *QUIET]
        out, _ = makemore("test", *grown, *logged_to(run))
        samples, _ = makemore("predict", *grown, "--sampling.num_samples", "5", *logged_to(run))
        return {"nll": test_nll(out), "samples": samples}
    budget = ["--trainer.max_epochs", str(args.epochs), "--trainer.max_time", args.max_time, *QUIET, *args.extra]
    start = ["--init_from", str(names), *args.tuned_extra] if arm == "fine-tuned" else []
    _, seconds = makemore("fit", "--config", config, "--data.path", str(words), *start, *budget, *logged_to(run))
    best = min(run.glob("checkpoints/best-*.ckpt"))
    out, _ = makemore("test", "--ckpt_path", str(best), *QUIET)
    samples, _ = makemore("predict", "--ckpt_path", str(best), "--sampling.num_samples", "5", *QUIET)
    steps = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, mmap=True)["global_step"]
    best_step = int(re.search(r"step=(\d+)", best.name).group(1))
    return {"nll": test_nll(out), "seconds": seconds, "steps": steps, "best": best_step, "samples": samples}


def unreadable(names: Path, words: Path) -> tuple[int, int]:
    """How many of the list's held-out words hold a character that names.txt's model never saw."""
    known = set(torch.load(names, weights_only=True, mmap=True)["vocab"])
    test = WordsDataModule(str(words)).split_words()["test"]
    return sum(not set(word) <= known for word in test), len(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/gru.yaml")
    parser.add_argument("--names_ckpt", type=Path, help="the names.txt checkpoint (trained with --config if omitted)")
    lists = [Path("data/it_surnames.txt"), Path("data/fr_words.txt")]
    parser.add_argument("--lists", type=Path, nargs="+", default=lists, help="words files (scripts/finetune_lists.py)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the list, for both scratch and fine-tuned")
    parser.add_argument("--max_time", default="00:00:05:00", help="the same wall-time cap for both (DD:HH:MM:SS)")
    # Options of makemore-pl, as one string each: --extra="--model.dropout 0.2 --data.batch_size 32".
    parser.add_argument("--names_extra", type=shlex.split, default=[], help="options for the names.txt run only")
    parser.add_argument("--extra", type=shlex.split, default=[], help="options for every run on a list")
    parser.add_argument("--tuned_extra", type=shlex.split, default=[], help="options for the fine-tuned runs only")
    parser.add_argument("--arms", nargs="+", default=ARMS, choices=ARMS, help="which models to compare")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (1: one after the other)")
    args = parser.parse_args()
    names = names_checkpoint(args.config, args.names_ckpt, args.names_extra)
    rows = [
        "| list | model | test/nll | steps (best at) | wall time of `fit` | five samples |",
        "|---|---|---|---|---|---|",
    ]
    # Scratch and fine-tuned alternate in order, list by list; with --jobs > 1 they run side by side.
    arms = [
        (words, arm)
        for i, words in enumerate(args.lists)
        for arm in (ARMS if i % 2 == 0 else [ARMS[1], ARMS[0], ARMS[2]])
        if arm in args.arms
    ]
    with ThreadPoolExecutor(args.jobs) as pool:
        done = dict(zip(arms, pool.map(lambda job: run_arm(args.config, names, *job, args), arms)))
    for words in args.lists:
        missing, total = unreadable(names, words)
        for arm in (arm for arm in ARMS if arm in args.arms):
            r = done[words, arm]
            steps = f"{r['steps']:,} ({r['best']:,})" if "steps" in r else "0"
            seconds = f"{r['seconds']:.0f} s" if "seconds" in r else ""
            note = f" ({missing} of {total} words hold a new character)" if arm == "unchanged" else ""
            samples = ", ".join(r["samples"].split())
            rows.append(f"| `{words.name}` | {arm}{note} | {r['nll']:.4f} | {steps} | {seconds} | {samples} |")
    table = "\n".join(rows)
    print(table)
    (LOGS / f"{Path(args.config).stem}_table.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
