"""The bigram's figures, G1, G2 and G4 to G7: the lecture's loop, raw loops, scaling, start-up, the Dashboard."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from clocks import StepClock
from common import CONFIGS, NAMES, fit_command, quiet, trainer, wall

from makemore_pl.callbacks.dashboard import Dashboard
from makemore_pl.cli import cli_main
from makemore_pl.data.batches import FullBatch, MiniBatches
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.models.counts import CountNGram
from makemore_pl.models.neural import NeuralNGram


def per_call(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


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
            cli_main(["fit", "--config", str(CONFIGS / "bigram.yaml"), "--trainer.enable_progress_bar",
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
            [sys.executable, __file__, str(path)], capture_output=True, text=True, check=True
        ).stdout.split()
        rows.append((factor, words, *map(float, out[-3:])))
        path.unlink()
    return rows


def whole_commands(quick: bool, workdir: Path) -> dict[str, float]:
    """Whole-command wall times, the median of alternating runs: with and without the Dashboard, and bare."""
    bigram = CONFIGS / "bigram.yaml"
    config = yaml.safe_load(bigram.read_text())
    callbacks = config["trainer"]["callbacks"]
    config["trainer"]["callbacks"] = [c for c in callbacks if c["class_path"] != "makemore_pl.Dashboard"]
    plain = workdir / "bigram_without_dashboard.yaml"
    plain.write_text(yaml.safe_dump(config))
    overrides = ["--trainer.enable_progress_bar", "false", *(["--trainer.max_epochs", "3"] if quick else [])]

    times: dict[str, list[float]] = {"fit": [], "fit without dashboard": [], "import lightning": []}
    for _ in range(1 if quick else 5):  # whole commands vary by +-0.3 s here: medians of alternating runs
        times["fit"].append(wall(fit_command(bigram, workdir, *overrides))[0])
        times["fit without dashboard"].append(wall(fit_command(plain, workdir, *overrides))[0])
        times["import lightning"].append(wall([sys.executable, "-c", "import lightning"])[0])
    return {k: statistics.median(v) for k, v in times.items()}


if __name__ == "__main__":
    scaling_child(sys.argv[1])  # see scaling()
