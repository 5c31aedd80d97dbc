"""Train every model of the makemore series as shipped and print the README's table (`make series`).

    python scripts/series.py                       # every config of the series, one after another
    python scripts/series.py gru transformer       # some of them

For each config it times the whole `makemore-pl fit --config configs/<name>.yaml` command, reads
the best val/nll and its step from the run's best checkpoint, tests that checkpoint, counts the
parameters, and samples five words from it with `makemore-pl predict`. The table goes to stdout
and to lightning_logs/series.md.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from makemore_pl.cli import MakemoreCLI, run_cli
from makemore_pl.data.files import write_atomic

REPO = Path(__file__).resolve().parents[1]

# Each config's anchor: what the lectures or makemore.py report for the same model.
ANCHORS = {
    "bigram": ("lecture 1, counts", "2.454 (all words)"),
    "mlp": ("lecture 2", "val 2.1701"),
    "mlp_bn": ("lecture 3", "val 2.1048"),
    "wavenet": ("lecture 5", "val 1.9937"),
    "bow": ("makemore.py `--type bow`", "none published"),
    "rnn": ("makemore.py `--type rnn`", "none published"),
    "gru": ("makemore.py `--type gru`", "none published"),
    "lstm": ("(makemore.py has none)", ""),
    "transformer": ("makemore.py default", "test 1.92 (its own split)"),
}
SERIES = ["mlp", "mlp_bn", "wavenet", "bow", "rnn", "gru", "lstm", "transformer"]


def latest_run(name: str) -> Path:
    runs = (REPO / "lightning_logs" / name).glob("version_*")
    return max(runs, key=lambda p: int(p.name.split("_")[1]))


def measure(name: str) -> dict:
    config = REPO / "configs" / f"{name}.yaml"
    command = [sys.executable, "-m", "makemore_pl", "fit", "--config", str(config)]
    start = time.perf_counter()
    subprocess.run([*command, "--trainer.enable_progress_bar", "false"], check=True, cwd=REPO)
    wall = time.perf_counter() - start

    run = latest_run(name)
    (best,) = run.glob("checkpoints/best-*.ckpt")
    saved = torch.load(best, weights_only=True, map_location="cpu")
    checkpoint_state = next(v for k, v in saved["callbacks"].items() if k.startswith("ModelCheckpoint"))
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")

    # Without a logger, Lightning writes config.yaml (and the sampler samples.tsv) into the root dir:
    # a scratch folder keeps them out of the repository.
    with tempfile.TemporaryDirectory() as scratch:
        quiet = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]
        quiet += ["--trainer.default_root_dir", scratch]
        cli = run_cli(MakemoreCLI, ["--config", str(config), *quiet], run=False)
        test_nll = cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=str(best), verbose=False)[0]
        parameters = sum(p.numel() for p in cli.model.parameters())

        predict = [sys.executable, "-m", "makemore_pl", "predict", "--config", str(config), "--ckpt_path", str(best)]
        predict += ["--sampling.num_samples", "5", *quiet]
        words = subprocess.run(predict, check=True, cwd=REPO, capture_output=True, text=True).stdout.split()
    return {
        "name": name,
        "val": float(checkpoint_state["best_model_score"]),
        "best_step": saved["global_step"],
        "steps": last["global_step"],
        "test": test_nll["test/nll"],
        "parameters": parameters,
        "wall": wall,
        "samples": words,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| config | anchor | its figure | best val/nll | test/nll (best checkpoint) | parameters | steps (best at) "
        "| wall time of `fit` | five samples |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        anchor, figure = ANCHORS.get(r["name"], ("", ""))
        lines.append(
            f"| `{r['name']}.yaml` | {anchor} | {figure} | {r['val']:.4f} | {r['test']:.4f} | {r['parameters']:,} "
            f"| {r['steps']:,} ({r['best_step']:,}) | {r['wall']:.0f} s | {', '.join(r['samples'])} |"
        )
    return "\n".join(lines) + "\n"


def main(names: list[str]) -> None:
    start = time.perf_counter()
    results = [measure(name) for name in names or SERIES]
    text = table(results) + f"\n`make series` took {(time.perf_counter() - start) / 60:.1f} minutes.\n"
    write_atomic(REPO / "lightning_logs" / "series.md", text.encode())
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
