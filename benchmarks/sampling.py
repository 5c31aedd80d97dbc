"""Sampling speed: words per second with each family's decoder, the re-running one, and makemore.py's ``generate``.

    python benchmarks/sampling.py                              # every shipped model, trained briefly here
    python benchmarks/sampling.py --checkpoints lightning_logs # the best checkpoints of `make series` instead
    python benchmarks/sampling.py --quick                      # two models, tiny budgets: seconds
    python benchmarks/sampling.py --threads 1                  # on a machine shared with other work

Each model samples through one draw loop (``draw``), driving either its own decoder, which
carries its state (``model.decoder``), or ``Rerunning``, which runs the network on the whole
prefix at every character; finished words leave the batch in both. Beside them, makemore.py's
model of the same kind and size samples with its own ``generate``, which always runs block_size - 1
steps, whatever its weights (so its models are left untrained). The samplers take turns, and
each keeps its best round: on a shared machine, noise only slows.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType

import torch
from common import CONFIGS, NAMES, config_cli, markdown_table, quiet, rate, ratio
from reference import fetch_makemore, twin
from torch import Tensor

from makemore_pl.models import MLP, CountNGram, LanguageModel, NetworkModel, NeuralNGram
from makemore_pl.sampling.decoders import Decoder, Rerunning
from makemore_pl.sampling.options import SamplingOptions

# Every model of the series and the lecture's n-grams, as shipped.
MODELS = ("bigram", "counts", "trigram", "mlp", "mlp_bn", "wavenet", "bow", "rnn", "gru", "lstm", "transformer")
QUICK_MODELS = ("gru", "transformer")
BATCHES = (1, 1000)
QUICK_BATCHES = (1, 100)
Generate = Callable[[Tensor, int], Tensor]  # makemore.py's generate(idx, max_new_tokens) with its model


@dataclass
class Budget:
    steps: int  # training steps before sampling, so that words end where trained words end
    seconds: float  # each sampler draws for at least this long per round
    rounds: int
    batches: tuple[int, ...]


def draw(decoder: Decoder, num: int, max_length: int, generator: torch.Generator, temperature: float = 1.0) -> int:
    """Draw ``num`` words with ``decoder``, dropping each as it ends; the characters drawn (the words are not kept)."""
    live = num
    characters = 0
    for _ in range(max_length):
        probs = torch.softmax(decoder.logits().float() / temperature, dim=-1).cpu()
        ix = torch.multinomial(probs, num_samples=1, generator=generator)[:, 0]
        going = (ix != 0).nonzero()[:, 0]
        characters += len(going)
        if len(going) == 0:
            break
        if len(going) < live:  # a finished word leaves: the batch shrinks as words end
            decoder.keep(going)
            live = len(going)
        decoder.feed(ix[going])
    return characters


def makemore_module(script: Path) -> ModuleType:
    """makemore.py imported from its temporary copy: its model classes and ``generate``, not its training script."""
    spec = importlib.util.spec_from_file_location("makemore_reference", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # its command line sits under ``if __name__ == "__main__"``
    return module


def makemore_twin(makemore: ModuleType, model: LanguageModel, block_size: int) -> tuple[Generate, str] | None:
    """makemore.py's ``generate`` with its model of the same kind and sizes as ``model``, and the model's name.

    None where it has none of the kind.
    """
    arguments = twin(model) if isinstance(model, NetworkModel) else None
    if arguments is None and isinstance(model, MLP) and not model.batch_norm:
        # Its MLP reads the whole block of characters, ours ``context`` of them: the same widths.
        arguments = ["--type", "mlp", "--n-embd", str(model.embedding), "--n-embd2", str(model.hidden)]
    if arguments is None and isinstance(model, NeuralNGram | CountNGram) and model.context == 1:
        arguments = ["--type", "bigram"]
    if arguments is None:
        return None
    options = dict(zip(arguments[::2], arguments[1::2]))
    sizes = {key[2:].replace("-", "_"): int(value) for key, value in options.items() if key != "--type"}
    config = makemore.ModelConfig(vocab_size=model.vocab_size, block_size=block_size, **sizes)
    kind = options["--type"]
    classes = {"transformer": makemore.Transformer, "bow": makemore.BoW, "mlp": makemore.MLP, "bigram": makemore.Bigram}
    with contextlib.redirect_stdout(io.StringIO()):  # its Transformer prints its size
        network = makemore.RNN(config, cell_type=kind) if kind in ("rnn", "gru") else classes[kind](config)
    return partial(makemore.generate, network.eval(), do_sample=True), " ".join(arguments[1:])


def trained(name: str, workdir: Path, steps: int, checkpoints: Path | None) -> tuple[LanguageModel, str]:
    """The shipped config's model: from its latest `make series` best checkpoint, or trained ``steps`` steps here."""
    if checkpoints is not None:
        found = sorted((checkpoints / name).glob("version_*/checkpoints/best-*.ckpt"), key=lambda p: p.stat().st_mtime)
        if found:
            return checkpoints.load_model(found[-1]), str(found[-1])
    on_cpu = ("--trainer.accelerator", "cpu", "--trainer.devices", "1")
    # Validation stays: the n-grams' EarlyStopping reads it (a full-batch epoch is one step).
    cli = config_cli(CONFIGS / f"{name}.yaml", workdir, "--trainer.max_steps", str(steps), *on_cpu)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    if isinstance(cli.model, CountNGram):
        return cli.model.eval(), "counted here (one epoch)"
    return cli.model.eval(), f"trained {cli.trainer.global_step} steps here"


def words_per_second(sample: Callable[[], object], num: int, seconds: float) -> float:
    """``num`` words per call of ``sample``, called until ``seconds`` have passed (after one call to warm up)."""
    sample()
    calls, start = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - start < seconds:
        sample()
        calls += 1
    return calls * num / (time.perf_counter() - start)


@dataclass
class Row:
    model: str
    batch: int
    carried: float
    rerunning: float
    characters: float  # mean characters per word drawn with the carried state
    twin: str
    makemore: float | None


def measure(name: str, model: LanguageModel, makemore: ModuleType | None, budget: Budget) -> list[Row]:
    """Words per second of one model at every batch size: its decoder, ``Rerunning``, makemore.py's twin."""
    block_size = getattr(model, "block_size", 16)  # an n-gram or window model: the names' longest word and the start
    reference = makemore_twin(makemore, model, block_size) if makemore is not None else None
    return [measure_batch(name, model, num, reference, block_size, budget) for num in budget.batches]


def measure_batch(
    name: str, model: LanguageModel, num: int, reference: tuple[Generate, str] | None, block_size: int, budget: Budget
) -> Row:
    max_length = model.longest_sample(SamplingOptions().max_length)
    generator = torch.Generator().manual_seed(0)
    drawn: list[int] = []  # the characters of each batch drawn with the carried state
    samplers: dict[str, Callable[[], object]] = {
        "carried": lambda: drawn.append(draw(model.decoder(num), num, max_length, generator)),
        "rerunning": lambda: draw(Rerunning(model.next_logits, num, None, model.device), num, max_length, generator),
    }
    if reference is not None:
        start = torch.zeros(num, 1, dtype=torch.long)
        samplers["makemore"] = lambda: reference[0](start, block_size - 1)  # always block_size - 1 steps
    best = dict.fromkeys(samplers, 0.0)
    with model.evaluating():
        for _ in range(budget.rounds):
            for key, sample in samplers.items():
                best[key] = max(best[key], words_per_second(sample, num, budget.seconds))
    twin_name = reference[1] if reference is not None else "none of its kind"
    characters = sum(drawn) / (len(drawn) * num)
    return Row(name, num, best["carried"], best["rerunning"], characters, twin_name, best.get("makemore"))


def table(rows: list[Row]) -> list[str]:
    columns = [
        "model", "batch", "carried state (words/s)", "re-running (words/s)", "carried / re-running", "chars/word",
        "makemore.py's twin", "its `generate` (words/s)", "carried / makemore.py",
    ]  # fmt: skip
    return markdown_table(columns, (row_cells(r) for r in rows))


def row_cells(r: Row) -> list[str]:
    return [
        r.model, f"{r.batch:,}", rate(r.carried), rate(r.rerunning), ratio(r.carried, r.rerunning),
        f"{r.characters:.1f}", r.twin, rate(r.makemore), ratio(r.carried, r.makemore, digits=1),
    ]  # fmt: skip


def sampling_rows(quick: bool, workdir: Path, checkpoints: Path | None = None) -> tuple[list[str], list[str]]:
    """The table, and where each model's weights came from."""
    budget = (
        Budget(steps=3, seconds=0.05, rounds=1, batches=QUICK_BATCHES)
        if quick
        else Budget(steps=300, seconds=1.0, rounds=2, batches=BATCHES)
    )
    script, source = fetch_makemore(workdir)
    makemore = makemore_module(script) if script is not None else None
    rows, sources = [], [f"makemore.py {source}"]
    for name in QUICK_MODELS if quick else MODELS:
        torch.manual_seed(0)
        model, weights = trained(name, workdir, budget.steps, checkpoints)
        sources.append(f"{name}: {weights}")
        rows += measure(name, model, makemore, budget)
    return table(rows), sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two models, tiny budgets: seconds")
    parser.add_argument("--checkpoints", type=Path, help="a lightning_logs folder of `make series` runs")
    parser.add_argument(
        "--threads", type=int, help="torch's CPU threads (default: torch's own); 1 on a machine shared with others"
    )
    args = parser.parse_args()
    quiet()
    if args.threads:
        # Where other processes hold the cores, threads that wait for each other at every small
        # kernel slow every sampler many times over; one thread measures each one's own work.
        torch.set_num_threads(args.threads)
    if not NAMES.exists():
        sys.exit(f"{NAMES} is missing: run `makemore-pl fit --config configs/bigram.yaml` once to download it")
    with tempfile.TemporaryDirectory() as tmp:
        lines, sources = sampling_rows(args.quick, Path(tmp), args.checkpoints)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32 on the CPU\n")
    print("\n".join(lines))
    print("\nWeights: " + "; ".join(sources))


if __name__ == "__main__":
    main()
