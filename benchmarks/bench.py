"""makemore-pl's speed, side by side with its baselines, as one markdown table.

    python benchmarks/bench.py                       # the full run on data/names.txt (about 15 minutes here)
    python benchmarks/bench.py --quick               # tiny sizes, seconds: CI runs it so this never rots
    python benchmarks/bench.py --accelerator gpu     # the series' figures on a GPU (the bigram's stay on the CPU)

Every figure is a ratio against a baseline measured in the same run, on the same machine:
the lecture's loop, a raw PyTorch loop of the same maths, makemore.py, or `import lightning`.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import bigram
import lightning as L
import quality
import reference
import sampling
import series
import startup
import torch
from common import CONFIGS, NAMES, names_configs, quiet

from makemore_pl.data.datamodule import WordsDataModule

# F1's models, named by the issue: makemore.py's default kind, and the fastest recurrent one.
QUALITY_CONFIGS = ("transformer", "gru")
# F3: makemore.py's recurrent models are its RNN and GRU; it has no LSTM.
F3_CONFIGS = ("gru", "lstm")
# --quick: one model of each layout, enough to run every line of the series' figures.
QUICK_SERIES = ("mlp", "gru")


def bigram_rows(quick: bool, workdir: Path) -> tuple[list[str], list[str]]:
    """G1, G2, G4, G6 and G7 as rows of the main table, and G5's scaling table."""
    torch.manual_seed(0)
    dm = WordsDataModule(path=str(NAMES))
    dm.setup()
    steps = bigram.step_times(dm, steps=200 if quick else 2000, lecture_repeats=3 if quick else 20)
    optimum_s, optimum_steps, optimum = bigram.time_to_optimum(dm, max_steps=300)
    rates = {b: bigram.throughput(NAMES, b, 50 if quick else 2000) for b in (32, 4096)}
    dashboard = bigram.dashboard_time()
    scale = bigram.scaling([0.01] if quick else [1, 10, 100], workdir)
    walls = bigram.whole_commands(quick, workdir)
    fit_s, import_s, plain_s = walls["fit"], walls["import lightning"], walls["fit without dashboard"]

    ms = {k: v * 1e3 for k, v in steps.items()}
    rows = [
        f"| G2 | full-batch step, raw loop with the package's maths | {ms['raw']:.3f} ms | lecture's one-hot step "
        f"{ms['lecture']:.1f} ms | {ms['lecture'] / ms['raw']:.0f}x faster | >= 20x |"
    ]
    for every in (1, 50):
        step = ms[f"lightning, logging every {every}"]
        rows.append(
            f"| G2 | full-batch step inside Trainer.fit, logging every {every} step(s) | {step:.3f} ms | lecture's "
            f"one-hot step {ms['lecture']:.1f} ms | {ms['lecture'] / step:.0f}x faster | >= 20x |"
        )
    rows.append(
        f"| G1 | training-loop time to within 1e-3 nats of the count optimum ({optimum:.5f}), l2 = 0 | "
        f"{optimum_s:.3f} s ({optimum_steps} steps) | 1 s | {optimum_s:.2f} | <= 1 |"
    )
    for b, (raw, rate) in rates.items():
        goal = ">= 5 M/s" if b == 4096 else ""
        rows.append(
            f"| G4 | mini-batch throughput inside Trainer.fit, batch {b} | {rate / 1e6:.2f} M bigrams/s | "
            f"raw loop {raw / 1e6:.2f} M bigrams/s | {rate / raw:.2f}x | {goal} |"
        )
    rows.append(
        f"| G6 | whole `makemore-pl fit --config configs/bigram.yaml` | {fit_s:.2f} s | "
        f"`python -c 'import lightning'` {import_s:.2f} s | {fit_s / import_s:.2f}x | <= 3x |"
    )
    rows.append(
        f"| G7 | the Dashboard's cost: `fit` with it | {fit_s:.2f} s | `fit` without it {plain_s:.2f} s | "
        f"+{(fit_s / plain_s - 1) * 100:.1f}% | < +10% |"
    )
    inside = dashboard["on_fit_start"] + dashboard["on_validation_epoch_end"] + dashboard["on_fit_end"]
    rows.append(
        f"| G7 | time inside the Dashboard's hooks during `fit` (start {dashboard['on_fit_start']:.2f} s, "
        f"validation epochs {dashboard['on_validation_epoch_end']:.2f} s, end {dashboard['on_fit_end']:.2f} s) | "
        f"{inside:.2f} s | the in-process `fit` {dashboard['fit']:.2f} s | {inside / dashboard['fit'] * 100:.0f}% | |"
    )
    scaling = [
        "| size | words | data preparation | count-model fit | total | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for factor, words, prepared, fitted, peak in scale:
        scaling.append(
            f"| {factor:g}x names | {words:,} | {prepared:.2f} s | {fitted:.2f} s | {prepared + fitted:.2f} s | "
            f"{peak:.0f} MB |"
        )
    return rows, scaling


def quality_rows(args, workdir: Path, script: Path | None, source: str, trainer_args: list[str]) -> list[str]:
    """F1: makemore.py's defaults until its test loss reaches the target, then makemore-pl's configs, one by one."""
    target, device = args.target, makemore_device(args.accelerator)
    ours = list(trainer_args)
    if args.quick:  # validate after 3 steps, against a target the first validation reaches
        target = 3.5
        ours += ["--trainer.max_steps", "6", "--trainer.val_check_interval", "3", "--trainer.limit_val_batches", "1"]
    if script is None or args.quick:  # it evaluates every 500 steps: nothing to see in a quick run
        baseline, baseline_text = None, f"makemore.py {'skipped in quick mode' if args.quick else source}"
    else:
        baseline = quality.makemore_until(script, workdir, target, args.cap, device)
        baseline_text = f"makemore.py's defaults to test {target:.2f}: {baseline}"
    # No run of ours waits longer than makemore.py took: beyond that the ratio is > 1 anyway.
    cap = baseline.seconds if baseline is not None and baseline.seconds else args.cap
    rows = []
    reached: dict[str, quality.Reached] = {}
    for name in QUALITY_CONFIGS[:1] if args.quick else QUALITY_CONFIGS:
        reached[name] = quality.makemore_pl_until(CONFIGS / f"{name}.yaml", workdir, target, cap, *ours)
        rows.append(
            f"| F1 | time to val/nll {target:.2f}, `makemore-pl fit --config configs/{name}.yaml` | {reached[name]} | "
            f"{baseline_text} | {time_ratio(reached[name], baseline)} | {'<= 0.5x' if name == 'transformer' else ''} |"
        )
    fp32 = reached[QUALITY_CONFIGS[0]]
    if args.quick:  # the same code as above, one more argument
        return rows
    bf16 = quality.makemore_pl_until(
        CONFIGS / f"{QUALITY_CONFIGS[0]}.yaml", workdir, target, fp32.seconds or cap,
        *ours, "--trainer.precision", "bf16-mixed",
    )  # fmt: skip
    rows.append(
        f"| F1 | the same, `--trainer.precision bf16-mixed` (best val/nll {bf16.best:.4f}) | {bf16} | "
        f"in 32-bit: {fp32} (best {fp32.best:.4f}) | {time_ratio(bf16, fp32)} | |"
    )
    # The starting weights the config replaced (docs/transformer_start.md), capped at makemore.py's time.
    gpt2 = quality.makemore_pl_until(
        CONFIGS / f"{QUALITY_CONFIGS[0]}.yaml", workdir, target, cap, *ours, "--model.init", "gpt2"
    )
    rows.append(
        f"| F1 | the same, `--model.init gpt2` (best val/nll {gpt2.best:.4f}) | {gpt2} | "
        f"`fan_in`: {fp32} (best {fp32.best:.4f}) | {time_ratio(gpt2, fp32)} | |"
    )
    return rows


def time_ratio(ours: quality.Reached, baseline: quality.Reached | None) -> str:
    if baseline is None or baseline.seconds is None:
        return "-"
    if ours.seconds is None:
        return f"> {ours.ran / baseline.seconds:.2f}x"
    return f"{ours.seconds / baseline.seconds:.2f}x"


def cpu_name() -> str:
    """The processor's model name, where Linux says it; else what Python knows."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def makemore_device(accelerator: str) -> str:
    return {"gpu": "cuda", "cuda": "cuda", "mps": "mps"}.get(accelerator, "cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and budgets, seconds: CI runs it")
    parser.add_argument("--accelerator", default="cpu", help="where the series' figures run: cpu, gpu or mps")
    parser.add_argument("--target", type=float, default=2.0, help="F1's held-out NLL (default 2.00)")
    parser.add_argument("--cap", type=float, default=480, help="seconds after which makemore.py's F1 run gives up")
    parser.add_argument(
        "--compile", nargs="*", default=list(QUALITY_CONFIGS), help="configs timed with --model.compile true"
    )
    args = parser.parse_args()
    quiet()
    if not NAMES.exists():
        sys.exit(f"{NAMES} is missing: run `makemore-pl fit --config configs/bigram.yaml` once to download it")
    quick = args.quick
    trainer_args = ["--trainer.accelerator", args.accelerator, "--trainer.devices", "1"]
    budget = series.Budget(
        warmup=3 if quick else 30,
        seconds=0.3 if quick else 2.0,
        rounds=1 if quick else 2,
        makemore_steps=30 if quick else 200,
        trainer_args=trainer_args,
        device=makemore_device(args.accelerator),
    )
    configs = [c for c in series.series_configs() if not quick or c.stem in QUICK_SERIES]
    compiled = set() if quick else set(args.compile)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        script, source = reference.fetch_makemore(workdir)
        rows, scaling = bigram_rows(quick, workdir)
        rows += quality_rows(args, workdir, script, source, trainer_args)
        throughputs = [
            series.measure(c, workdir, budget, script, compiled=c.stem in compiled, bf16=True) for c in configs
        ]
        every = [c for c in names_configs() if not quick or c.stem in QUICK_SERIES[1:]]
        starts = [startup.startup(c, workdir, 3 if quick else 20, 1 if quick else 2, *trainer_args) for c in every]
        imported = startup.import_lightning(1 if quick else 3)
        sampled, weights = sampling.sampling_rows(quick, workdir)

    worst = min(throughputs, key=lambda r: r.fit / r.raw)
    rows.append(
        f"| F2 | words/s inside Trainer.fit against a raw loop, the worst config ({worst.config}, batch "
        f"{worst.batch_size}) | {worst.fit:,.0f} | raw loop {worst.raw:,.0f} | {worst.fit / worst.raw:.2f}x | >= 0.9x |"
    )
    for r in throughputs:
        if r.config in F3_CONFIGS:
            rows.append(
                f"| F3 | words/s, `configs/{r.config}.yaml` inside Trainer.fit, batch {r.batch_size} | {r.fit:,.0f} | "
                f"makemore.py's {r.twin}: {series.rate(r.makemore)} | {series.ratio(r.fit, r.makemore)} | >= 3x |"
            )
    slowest = max(starts, key=lambda s: s.startup)
    rows.append(
        f"| F4 | start-up of a whole `fit`, the slowest config ({slowest.config}): the command less its training "
        f"loop | {slowest.startup:.2f} s | `import lightning` {imported:.2f} s | {slowest.startup / imported:.2f}x | "
        "<= 1.5x |"
    )

    where = args.accelerator
    if where != "cpu" and torch.cuda.is_available():
        where = f"{where}: {torch.cuda.get_device_name()}"
    print(f"## makemore-pl benchmark{' (quick mode: tiny sizes, not for quoting)' if quick else ''}\n")
    print(
        f"{cpu_name()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}, lightning {L.__version__}; the series on {where}; makemore.py {source}\n"
    )
    print("| # | figure | measured | baseline in the same run | ratio | goal |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n### The series' training throughput in words per second, at each config's batch size (F2, F3)\n")
    print("\n".join(series.table(throughputs)))
    print("\n### Start-up of the whole `fit` command, per config (F4)\n")
    print("\n".join(startup.table(starts, imported)))
    print("\n### Sampling: words per second, the carried state against re-running and makemore.py's `generate`\n")
    print("\n".join(sampled))
    print("\nWeights: " + "; ".join(weights))
    print("\n### Scaling (G5: 100x names, data preparation + count fit <= 10 s, peak RSS <= 2 GB)\n")
    print("\n".join(scaling))
    print(f"\nThe benchmark took {(time.perf_counter() - started) / 60:.1f} minutes.")


if __name__ == "__main__":
    main()
