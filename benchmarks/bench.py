"""makemore-pl's speed, side by side with its baselines in one process, as a markdown table.

    python benchmarks/bench.py            # the full run on data/names.txt (a few minutes)
    python benchmarks/bench.py --quick    # tiny sizes, seconds: CI runs it so this never rots

Every figure is a ratio against a baseline measured in the same run, on the same machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
import yaml

from makemore_pl.batches import FullBatch, MiniBatches
from makemore_pl.cli import cli_main
from makemore_pl.counts import CountNGram
from makemore_pl.dashboard import Dashboard
from makemore_pl.data import WordsDataModule
from makemore_pl.neural import NeuralNGram

REPO = Path(__file__).resolve().parents[1]
NAMES = REPO / "data" / "names.txt"


def quiet() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def per_call(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def trainer(**kwargs) -> L.Trainer:
    defaults = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    return L.Trainer(**{**defaults, **kwargs})


class StepClock(L.Callback):
    """Wall time at the end of every training batch, and the logged train/nll, for steady-state rates."""

    def __init__(self, target: float | None = None):
        self.times: list[float] = []
        self.target, self.reached = target, None

    def on_train_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        now = time.perf_counter()
        self.times.append(now)
        # The benchmark's own check: it reads the loss back, the package never does.
        if self.target is not None and self.reached is None and trainer.callback_metrics["train/nll"] <= self.target:
            self.reached = (now - self.start, len(self.times))
            trainer.should_stop = True

    def steady_step(self) -> float:
        steady = self.times[len(self.times) // 5 :]  # skip start-up
        return (steady[-1] - steady[0]) / (len(steady) - 1)


def step_times(dm: WordsDataModule, steps: int, lecture_repeats: int) -> dict:
    x, y = dm.examples["train"]
    vocab = dm.vocab_size
    generator = torch.Generator().manual_seed(2147483647)
    W = torch.randn(vocab, vocab, generator=generator, requires_grad=True)
    xs = x[:, 0]

    def lecture_step():
        xenc = F.one_hot(xs, num_classes=vocab).float()
        counts = (xenc @ W).exp()
        probs = counts / counts.sum(1, keepdim=True)
        loss = -probs[torch.arange(len(y)), y].log().mean() + 0.01 * (W**2).mean()
        W.grad = None
        loss.backward()
        W.data += -50 * W.grad

    model = NeuralNGram(dm.vocab)
    batch = next(iter(FullBatch(x, y)))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)

    def raw_step():  # exactly the package's maths, in a bare loop
        loss, _ = model.objective(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    lecture = per_call(lecture_step, lecture_repeats, warmup=1)
    raw = per_call(raw_step, steps)
    result = {"lecture": lecture, "raw": raw}
    # configs/bigram.yaml logs every step (one step is one epoch); Lightning's default is every 50.
    for every in (1, 50):
        clock = StepClock()
        trainer(max_epochs=steps, log_every_n_steps=every, callbacks=[clock]).fit(NeuralNGram(dm.vocab), datamodule=dm)
        result[f"lightning, logging every {every}"] = clock.steady_step()
    return result


def time_to_optimum(dm: WordsDataModule, max_steps: int) -> tuple[float, int, float]:
    counts = CountNGram(dm.vocab, smoothing=0.0)
    counts.count(next(iter(FullBatch(*dm.examples["train"]))))
    optimum = counts.table_nll().item()
    clock = StepClock(target=optimum + 1e-3)
    fit = trainer(max_epochs=max_steps, log_every_n_steps=1, callbacks=[clock])  # the loss of every step
    fit.fit(NeuralNGram(dm.vocab, l2=0.0), datamodule=dm)
    seconds, steps = clock.reached or (float("inf"), max_steps)
    return seconds, steps, optimum


def throughput(path: Path, batch_size: int, max_steps: int) -> tuple[float, float]:
    """Bigrams per second at ``batch_size``: a raw loop over the package's batches and maths, and Trainer.fit."""
    dm = WordsDataModule(path=str(path), batch_size=batch_size)
    dm.setup()
    model = NeuralNGram(dm.vocab)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)
    batches = MiniBatches(*dm.examples["train"], batch_size, seed=0, epoch=lambda: 0)
    start, steps = time.perf_counter(), 0
    for batch in batches:  # one epoch, the loader's counting included
        loss, _ = model.objective(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        steps += 1
        if steps == max_steps:
            break
    raw = steps * batch_size / (time.perf_counter() - start)
    clock = StepClock()
    trainer(max_epochs=1, max_steps=max_steps, callbacks=[clock]).fit(NeuralNGram(dm.vocab), datamodule=dm)
    return raw, batch_size / clock.steady_step()


def dashboard_time() -> dict[str, float]:
    """Seconds spent inside the Dashboard's hooks during one real `fit --config configs/bigram.yaml`, in-process."""
    spent: dict[str, float] = {}
    originals = {name: getattr(Dashboard, name) for name in ("on_fit_start", "on_validation_epoch_end", "on_fit_end")}

    def timed(name, hook):
        def run(*args, **kwargs):
            start = time.perf_counter()
            hook(*args, **kwargs)
            spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return run

    with tempfile.TemporaryDirectory() as tmp:
        try:
            for name, hook in originals.items():
                setattr(Dashboard, name, timed(name, hook))
            start = time.perf_counter()
            cli_main(["fit", "--config", str(REPO / "configs" / "bigram.yaml"), "--trainer.enable_progress_bar",
                      "false", "--trainer.logger.init_args.save_dir", tmp, "--data.path", str(NAMES)])  # fmt: skip
            spent["fit"] = time.perf_counter() - start
        finally:
            for name, hook in originals.items():
                setattr(Dashboard, name, hook)
    return spent


def synthetic_words(source: Path, factor: float, out: Path) -> int:
    """Words sampled from the bigram counts of ``source``, all in parallel, one character per step."""
    dm = WordsDataModule(path=str(source), val_fraction=0, test_fraction=0)
    dm.setup()
    x, y = dm.examples["train"]
    probs = torch.zeros(dm.vocab_size, dm.vocab_size)
    probs.index_put_((x[:, 0], y), torch.ones(len(y)), accumulate=True)
    probs = (probs + 1) / (probs + 1).sum(1, keepdim=True)
    n = int(len(dm.words) * factor)
    generator = torch.Generator().manual_seed(0)
    current, columns = torch.zeros(n, dtype=torch.long), []
    for _ in range(20):
        current = torch.multinomial(probs[current], 1, generator=generator)[:, 0]
        columns.append(current)
    columns.append(torch.zeros(n, dtype=torch.long))  # every word ends by the 21st character
    table = torch.stack(columns, 1).numpy()
    ended = np.cumsum(table == 0, axis=1) > 0
    first_end = ended & ~np.concatenate([np.zeros((n, 1), dtype=bool), ended[:, :-1]], axis=1)
    keep = ~ended | first_end  # the characters, then one boundary that becomes the newline
    lut = np.frombuffer(("\n" + "".join(dm.vocab[1:])).encode("ascii"), dtype=np.uint8)
    out.write_bytes(lut[table[keep]].tobytes())
    return n


def scaling_child(path: str) -> None:
    """Run in a fresh process, so that its peak memory is its own: prepare the data, fit the counts."""
    quiet()
    start = time.perf_counter()
    dm = WordsDataModule(path=path)
    dm.setup()
    prepared = time.perf_counter() - start
    start = time.perf_counter()
    model = CountNGram(dm.vocab)
    trainer(max_epochs=1).fit(model, datamodule=dm)
    fitted = time.perf_counter() - start
    print(f"{prepared} {fitted} {peak_rss_mb()}")


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries the parent's peak across exec."""
    status = Path("/proc/self/status")
    if status.exists():
        line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024)  # macOS: bytes


def scaling(factors: list[float], workdir: Path) -> list[tuple]:
    rows = []
    for factor in factors:
        path = workdir / f"names_x{factor:g}.txt"
        words = synthetic_words(NAMES, factor, path)
        out = subprocess.run(
            [sys.executable, __file__, "--scaling-child", str(path)], capture_output=True, text=True, check=True
        ).stdout.split()
        rows.append((factor, words, *map(float, out[-3:])))
        path.unlink()
    return rows


def wall(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def startup(quick: bool, workdir: Path) -> dict[str, float]:
    """Whole-command wall times, the median of alternating runs: with and without the Dashboard, and bare."""
    config = yaml.safe_load((REPO / "configs" / "bigram.yaml").read_text())
    callbacks = config["trainer"]["callbacks"]
    config["trainer"]["callbacks"] = [c for c in callbacks if c["class_path"] != "makemore_pl.Dashboard"]
    plain = workdir / "bigram_without_dashboard.yaml"
    plain.write_text(yaml.safe_dump(config))
    overrides = ["--trainer.enable_progress_bar", "false", "--trainer.logger.init_args.save_dir", str(workdir)]
    overrides += ["--trainer.max_epochs", "3"] if quick else []

    def fit(config: str) -> list[str]:
        return [str(Path(sys.executable).parent / "makemore-pl"), "fit", "--config", config, *overrides]

    times: dict[str, list[float]] = {"fit": [], "fit without dashboard": [], "import lightning": []}
    for _ in range(1 if quick else 5):  # whole commands vary by +-0.3 s here: medians of alternating runs
        times["fit"].append(wall(fit("configs/bigram.yaml"), REPO))
        times["fit without dashboard"].append(wall(fit(str(plain)), REPO))
        times["import lightning"].append(wall([sys.executable, "-c", "import lightning"], REPO))
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds")
    parser.add_argument("--scaling-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scaling_child:
        return scaling_child(args.scaling_child)
    quiet()
    quick = args.quick
    if not NAMES.exists():
        sys.exit(f"{NAMES} is missing: run `makemore-pl fit --config configs/bigram.yaml` once to download it")
    torch.manual_seed(0)
    dm = WordsDataModule(path=str(NAMES))
    dm.setup()

    steps = step_times(dm, steps=200 if quick else 2000, lecture_repeats=3 if quick else 20)
    optimum_s, optimum_steps, optimum = time_to_optimum(dm, max_steps=300)
    batch_steps = 50 if quick else 2000
    rates = {b: throughput(NAMES, b, batch_steps) for b in (32, 4096)}
    dashboard = dashboard_time()
    with tempfile.TemporaryDirectory() as tmp:
        scale = scaling([0.01, 0.1] if quick else [1, 10, 100], Path(tmp))
        walls = startup(quick, Path(tmp))
    fit_s, import_s, plain_s = walls["fit"], walls["import lightning"], walls["fit without dashboard"]

    ms = {k: v * 1e3 for k, v in steps.items()}
    print(f"## makemore-pl benchmark{' (quick mode: tiny sizes, not for quoting)' if quick else ''}\n")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}, lightning {L.__version__}\n"
    )
    print("| # | figure | measured | baseline in the same run | ratio | goal |")
    print("|---|---|---|---|---|---|")
    print(
        f"| G2 | full-batch step, raw loop with the package's maths | {ms['raw']:.3f} ms | lecture's one-hot step "
        f"{ms['lecture']:.1f} ms | {ms['lecture'] / ms['raw']:.0f}x faster | >= 20x |"
    )
    for every in (1, 50):
        step = ms[f"lightning, logging every {every}"]
        print(
            f"| G2 | full-batch step inside Trainer.fit, logging every {every} step(s) | {step:.3f} ms | lecture's "
            f"one-hot step {ms['lecture']:.1f} ms | {ms['lecture'] / step:.0f}x faster | >= 20x |"
        )
        print(
            f"| G3 | Trainer.fit steps/s, logging every {every} step(s) | {1e3 / step:.0f}/s | raw loop "
            f"{1e3 / ms['raw']:.0f}/s | {ms['raw'] / step:.2f}x | >= 0.7x |"
        )
    print(
        f"| G1 | training-loop time to within 1e-3 nats of the count optimum ({optimum:.5f}), l2 = 0 | "
        f"{optimum_s:.3f} s ({optimum_steps} steps) | 1 s | {optimum_s:.2f} | <= 1 |"
    )
    for b, (raw, rate) in rates.items():
        goal = ">= 5 M/s" if b == 4096 else ""
        print(
            f"| G4 | mini-batch throughput inside Trainer.fit, batch {b} | {rate / 1e6:.2f} M bigrams/s | "
            f"raw loop {raw / 1e6:.2f} M bigrams/s | {rate / raw:.2f}x | {goal} |"
        )
    print(
        f"| G6 | whole `makemore-pl fit --config configs/bigram.yaml` | {fit_s:.2f} s | "
        f"`python -c 'import lightning'` {import_s:.2f} s | {fit_s / import_s:.2f}x | <= 3x |"
    )
    print(
        f"| G7 | the Dashboard's cost: `fit` with it | {fit_s:.2f} s | `fit` without it {plain_s:.2f} s | "
        f"+{(fit_s / plain_s - 1) * 100:.1f}% | < +10% |"
    )
    inside = dashboard["on_fit_start"] + dashboard["on_validation_epoch_end"] + dashboard["on_fit_end"]
    print(
        f"| G7 | time inside the Dashboard's hooks during `fit` (start {dashboard['on_fit_start']:.2f} s, "
        f"validation epochs {dashboard['on_validation_epoch_end']:.2f} s, end {dashboard['on_fit_end']:.2f} s) | "
        f"{inside:.2f} s | the in-process `fit` {dashboard['fit']:.2f} s | {inside / dashboard['fit'] * 100:.0f}% | |"
    )
    print("\n### Scaling (G5: 100x names, data preparation + count fit <= 10 s, peak RSS <= 2 GB)\n")
    print("| size | words | data preparation | count-model fit | total | peak RSS |")
    print("|---|---|---|---|---|---|")
    for factor, words, prepared, fitted, peak in scale:
        print(
            f"| {factor:g}x names | {words:,} | {prepared:.2f} s | {fitted:.2f} s | {prepared + fitted:.2f} s | "
            f"{peak:.0f} MB |"
        )


if __name__ == "__main__":
    main()
