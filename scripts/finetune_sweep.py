"""Fine-tuned against trained from scratch, over kinds and sizes of list and seeds: docs/finetune.md's goal table.

    python scripts/finetune_lists.py --sizes 200 800 3000       # data/finetune/<kind>_<size>.txt
    python scripts/finetune_sweep.py --names_ckpt <names run>/checkpoints/best-step=N.ckpt

For every list (kind and size), both arms train the same config for the same epochs (``--epochs``, by
size), with each seed (``--seed_everything``; the 80/10/10 split by word is the same for every seed),
and the best-``val/nll`` checkpoint of each run is tested:

- scratch: trained on the list alone;
- fine-tuned: ``fit --init_from`` the names.txt checkpoint, with the recipe's defaults (``--finetune.*``)
  and whatever ``--tuned_extra`` adds; its ``--finetune.patience`` may stop it before the budget.

Each result is appended to ``<logs>/results.jsonl`` as it comes, keyed by list, arm, seed and options, and
is not run again: an interrupted sweep goes on where it stopped, and variants (``--tag``) share the
scratch runs. The table gives the mean over seeds of test/nll, the fine-tuned minus scratch gap, the
goal (below scratch at 200 and 800 words, at most 0.01 above at 3,000), and the mean wall time and
epochs of each arm's ``fit``. Runs go ``--jobs`` at a time, one thread each.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

LOGS = Path("lightning_logs/finetune_sweep")
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
KEY = ("kind", "size", "arm", "seed", "tag", "options")  # what makes two results the same job
GOAL_MARGIN = {3000: 0.01}  # how far above scratch the fine-tuned mean may be, by size (else: strictly below)


def run_job(job: dict) -> dict:
    """Fit one arm on one list with one seed, then test its best checkpoint: test/nll, wall time, epochs."""
    import torch

    from makemore_pl import console
    from makemore_pl.cli import MakemoreCLI, run_cli

    torch.set_num_threads(1)  # side by side on a shared machine, torch's threads would only wait on each other
    console.silence_false_alarms()
    run = Path(job["run"])
    where = [
        "--trainer.logger.init_args.save_dir", str(run.parent.parent),
        "--trainer.logger.init_args.name", run.parent.name,
        "--trainer.logger.init_args.version", run.name,
    ]  # fmt: skip
    start = time.perf_counter()
    fitted = run_cli(MakemoreCLI, ["fit", *job["args"], *where, *QUIET])
    seconds = time.perf_counter() - start
    best = fitted.trainer.checkpoint_callback.best_model_path
    epochs = fitted.trainer.current_epoch
    tested = run_cli(MakemoreCLI, ["test", "--ckpt_path", best, *QUIET])
    nll = float(tested.trainer.callback_metrics["test/nll"])
    val = float(fitted.trainer.checkpoint_callback.best_model_score)  # what chose the checkpoint: val/nll
    return {**job["key"], "nll": nll, "val": val, "seconds": seconds, "epochs": epochs, "best": Path(best).name}


def jobs(args: argparse.Namespace) -> list[dict]:
    budgets = {int(size): int(epochs) for size, epochs in (item.split(":") for item in args.epochs)}
    out = []
    for size in args.sizes:
        for kind in args.kinds:
            words = args.lists / f"{kind}_{size}.txt"
            for seed in args.seeds:
                for arm in args.arms:
                    options = [*args.extra, *(args.tuned_extra if arm == "fine-tuned" else [])]
                    tag = "scratch" if arm == "scratch" else args.tag
                    key = {"kind": kind, "size": size, "arm": arm, "seed": seed, "tag": tag, "options": options}
                    command = ["--config", args.config, "--data.path", str(words), "--seed_everything", str(seed)]
                    command += ["--trainer.max_epochs", str(budgets[size]), *options]
                    if arm == "fine-tuned":
                        command += ["--init_from", str(args.names_ckpt)]
                    run = LOGS / f"{kind}_{size}" / f"{tag}_s{seed}"
                    out.append({"key": key, "args": command, "run": str(run)})
    return out


def table(results: list[dict], args: argparse.Namespace) -> str:
    metric = "nll" if args.metric == "test" else "val"
    rows = [
        f"| list | words | {args.against} {args.metric}/nll | {args.tag} {args.metric}/nll | gap | goal | "
        f"{args.against} fit s (epochs) | {args.tag} fit s (epochs) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    met = total = 0
    # Each arm's results: (arm, tag, the options they must have been run with, or None for another tag's own).
    baseline = ("scratch", "scratch", args.extra) if args.against == "scratch" else ("fine-tuned", args.against, None)
    variants = (baseline, ("fine-tuned", args.tag, [*args.extra, *args.tuned_extra]))
    for size in args.sizes:
        for kind in args.kinds:
            arms = {
                tag: [
                    r
                    for r in results
                    if (r["kind"], r["size"], r["arm"], r["tag"]) == (kind, size, arm, tag)
                    and options in (None, r["options"])
                    and r["seed"] in args.seeds
                    and metric in r
                ]
                for arm, tag, options in variants
            }
            paired = set.intersection(*({r["seed"] for r in rs} for rs in arms.values()))
            arms = {arm: [r for r in rs if r["seed"] in paired] for arm, rs in arms.items()}  # the same seeds
            if not paired:
                rows.append(f"| {kind} | {size} | not run | not run | | | | |")
                continue
            base, tuned_mean = (statistics.mean(r[metric] for r in rs) for rs in arms.values())
            gap = tuned_mean - base
            ok = gap <= GOAL_MARGIN[size] if size in GOAL_MARGIN else gap < 0
            met, total = met + ok, total + 1
            cells = [
                f"{statistics.mean(r['seconds'] for r in rs):.0f} ({statistics.mean(r['epochs'] for r in rs):.0f})"
                for rs in arms.values()
            ]
            seeds = f" ({len(paired)} seed{'s' * (len(paired) > 1)})" if len(paired) != len(args.seeds) else ""
            rows.append(
                f"| {kind} | {size}{seeds} | {base:.4f} | {tuned_mean:.4f} | {gap:+.4f} | "
                f"{'met' if ok else 'MISSED'} | {cells[0]} | {cells[1]} |"
            )
    return "\n".join(rows) + f"\n\ngoal met on {met} of {total} lists measured"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names_ckpt", type=Path, required=True, help="names.txt's checkpoint, fine-tuned from")
    parser.add_argument("--config", default="configs/gru.yaml")
    parser.add_argument("--lists", type=Path, default=Path("data/finetune"), help="scripts/finetune_lists.py's --out")
    parser.add_argument("--kinds", nargs="+", default=["is_first_names", "surnames", "fr_words", "it_towns"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 800, 3000])
    parser.add_argument("--epochs", nargs="+", default=["200:60", "800:30", "3000:15"], help="SIZE:EPOCHS, both arms")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["scratch", "fine-tuned"], choices=["scratch", "fine-tuned"])
    # Options of makemore-pl, as one string each: --tuned_extra="--finetune.shrink 1 --finetune.patience null".
    parser.add_argument("--extra", type=shlex.split, default=[], help="options for both arms")
    parser.add_argument("--tuned_extra", type=shlex.split, default=[], help="options for the fine-tuned arm only")
    parser.add_argument("--tag", default="recipe", help="the fine-tuned variant's name in results.jsonl and the runs")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side")
    parser.add_argument("--table_only", action="store_true", help="print the table of the results so far")
    parser.add_argument(
        "--metric",
        choices=["test", "val"],
        default="test",
        help="the table's figure: test/nll, or "
        "the val/nll that chose the checkpoint (to choose a setting without the test words)",
    )
    parser.add_argument("--against", default="scratch", help="the table's baseline: scratch, or another --tag")
    args = parser.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    store = LOGS / "results.jsonl"
    results = [json.loads(line) for line in store.read_text().splitlines()] if store.exists() else []
    keys = [json.dumps({k: r[k] for k in KEY}) for r in results]
    # A job that two sweeps ran at once counts once: the first result stored.
    results = [r for i, r in enumerate(results) if keys.index(keys[i]) == i]
    done = [{k: r[k] for k in KEY} for r in results]
    todo = [job for job in jobs(args) if job["key"] not in done and not args.table_only]
    with ProcessPoolExecutor(args.jobs) as pool:
        for result in pool.map(run_job, todo):
            results.append(result)
            with store.open("a") as f:
                f.write(json.dumps(result) + "\n")
            print(json.dumps(result), flush=True)
    print(table(results, args))


if __name__ == "__main__":
    main()
