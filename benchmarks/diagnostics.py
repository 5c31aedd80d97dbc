"""What lecture 3's diagnostics cost, and what they show, on a real fit of configs/mlp_bn.yaml.

    python benchmarks/diagnostics.py                    # the whole config, 3 runs each way (many minutes)
    python benchmarks/diagnostics.py --max-steps 2000   # shorter fits, same comparison

Runs the whole `makemore-pl fit` command with the config as it is (the Diagnostics callback at its
interval) and with the Diagnostics entry taken out, one after the other, in pairs, and prints the
median overhead of the pairs, in wall time and in the process's CPU time (steadier on a machine
that other jobs share). Then it reads the event file of the last run with diagnostics back and prints
the saturation, gradient-to-data and update-to-data ratios at the first and the last recorded step,
and their largest.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

REPO = Path(__file__).resolve().parents[1]


def fit_seconds(config: Path, save_dir: Path, extra: list[str]) -> tuple[float, float]:
    """The wall time of the whole command, and the CPU time of its process (steadier on a shared machine)."""
    command = [str(Path(sys.executable).parent / "makemore-pl"), "fit", "--config", str(config)]
    command += ["--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.save_dir", str(save_dir), *extra]
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (cpu.ru_utime + cpu.ru_stime)


def first_and_last(run: Path, prefixes: tuple[str, ...]) -> list[tuple]:
    """Each scalar whose tag starts with one of ``prefixes``: its first, largest and last (step, value)."""
    events = EventAccumulator(str(run), size_guidance={"scalars": 0})
    events.Reload()
    rows = []
    for tag in sorted(events.Tags()["scalars"]):
        if tag.startswith(prefixes):
            points = events.Scalars(tag)
            top = max(points, key=lambda p: p.value)
            rows.append((tag, points[0].step, points[0].value, top.step, top.value, points[-1].step, points[-1].value))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/mlp_bn.yaml", help="a config with a Diagnostics callback")
    parser.add_argument("--max-steps", type=int, help="override the config's trainer.max_steps")
    parser.add_argument("--repeats", type=int, default=3, help="runs each way; the medians are compared")
    args = parser.parse_args()

    config = REPO / args.config
    settings = yaml.safe_load(config.read_text())
    callbacks = settings["trainer"]["callbacks"]
    if not any(c["class_path"] == "makemore_pl.Diagnostics" for c in callbacks):
        sys.exit(f"{config} has no makemore_pl.Diagnostics callback to compare against")
    settings["trainer"]["callbacks"] = [c for c in callbacks if c["class_path"] != "makemore_pl.Diagnostics"]
    extra = ["--trainer.max_steps", str(args.max_steps)] if args.max_steps else []

    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / f"without_diagnostics_{config.name}"
        plain.write_text(yaml.safe_dump(settings))
        times: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
        for _ in range(args.repeats):  # alternating, so that a slow spell of the machine hits both alike
            times["with"].append(fit_seconds(config, Path(tmp) / "with", extra))
            times["without"].append(fit_seconds(plain, Path(tmp) / "without", extra))
            print(f"with {times['with'][-1]} s, without {times['without'][-1]} s (wall, CPU)", file=sys.stderr)
        # Each pair ran back to back, so its ratio is steadier than a ratio of medians from different runs.
        overheads = {
            kind: sorted(w[k] / wo[k] - 1 for w, wo in zip(times["with"], times["without"]))
            for k, kind in enumerate(("wall", "CPU"))
        }
        runs = sorted((Path(tmp) / "with").glob("*/version_*"), key=lambda p: int(p.name.split("_")[1]))
        rows = first_and_last(runs[-1], ("saturation/", "grad_data_ratio/", "update_data_ratio/"))

    steps = f", --trainer.max_steps {args.max_steps}" if args.max_steps else ""
    print(f"## Diagnostics on `makemore-pl fit --config {args.config}{steps}` ({args.repeats} runs each way)\n")
    print("| time | with Diagnostics (median) | without (median) | overhead, median of the pairs | range |")
    print("|---|---|---|---|---|")
    for k, kind in enumerate(("wall", "CPU")):
        with_s = statistics.median(run[k] for run in times["with"])
        without_s = statistics.median(run[k] for run in times["without"])
        low, high = overheads[kind][0], overheads[kind][-1]
        print(
            f"| {kind} | {with_s:.1f} s | {without_s:.1f} s | {statistics.median(overheads[kind]):+.1%} | "
            f"{low:+.1%} to {high:+.1%} |"
        )
    print()
    print("| scalar | first step | value | step of the largest | largest | last step | value |")
    print("|---|---|---|---|---|---|---|")
    for tag, *figures in rows:
        print(f"| `{tag}` | " + " | ".join(f"{x:.4f}" if isinstance(x, float) else str(x) for x in figures) + " |")


if __name__ == "__main__":
    main()
