"""Running text: the token cache, the split, the windows, and a fit through the CLI (issue 22, sections 1 and 2)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from conftest import REPO, fit_args
from helpers import scalars

from makemore_pl.cli import MakemoreCLI, cli_main, run_cli
from makemore_pl.data.records import COUNTED, WINDOWS, WORDS, Shard
from makemore_pl.data.text import TextDataModule
from makemore_pl.data.tokens import encode_file, smallest_dtype
from makemore_pl.data.vocab import PAD
from makemore_pl.data.windows import EvalText, Span, TrainWindows
from makemore_pl.models.counts import CountNGram
from makemore_pl.models.mlp import MLP

# data/tinyshakespeare.txt, or ../shared/data's (as .ci/run provides names.txt).
SHAKESPEARE_FILES = [REPO / "data" / "tinyshakespeare.txt", REPO.parent / "shared" / "data" / "tinyshakespeare.txt"]
# A few thousand characters of running text, with newlines and punctuation: enough windows for a tiny fit.
VERSE = "".join(
    f"Line {i}: to be, or not to be; that is the question.\nWhether 'tis nobler {i % 7}!\n" for i in range(60)
)
TINY = ["--model.width", "16", "--model.layers", "1", "--model.heads", "2", "--data.block_size", "16"]


@pytest.fixture
def verse(tmp_path: Path) -> Path:
    path = tmp_path / "verse.txt"
    path.write_text(VERSE, encoding="utf-8")
    return path


def text_args(tmp_path: Path, path: Path, *extra: str) -> list[str]:
    """configs/text/nanogpt_cpu.yaml at a tiny size on ``path``, its tokens cached under ``tmp_path``."""
    return fit_args(
        tmp_path, path, "configs/text/nanogpt_cpu.yaml", *TINY, "--data.cache_dir", str(tmp_path / "cache"), *extra
    )


def test_tinyshakespeare_split_is_nanogpts(tmp_path):
    found = [path for path in SHAKESPEARE_FILES if path.is_file()]
    if not found:
        pytest.fail(f"tinyshakespeare.txt is missing: copy it to {SHAKESPEARE_FILES[0]}")
    data = TextDataModule(str(found[0]), cache_dir=str(tmp_path))
    train, val = data.bounds["train"], data.bounds["val"]
    assert train == (0, 1_003_854) and val == (1_003_854, 1_115_394)
    assert val[1] - val[0] == 111_540 and data.bounds["test"] == (1_115_394, 1_115_394)
    assert data.vocab_size == 65 and data.vocab[:2] == ["\n", " "]  # sorted characters, as nanoGPT's
    assert data.token_file.dtype == "uint8"


def test_cache_reused_and_invalidated(tmp_path, verse):
    first = encode_file(verse, cache_dir=tmp_path / "cache")
    written = first.path.stat().st_mtime_ns
    again = encode_file(verse, cache_dir=tmp_path / "cache")
    assert again == first and first.path.stat().st_mtime_ns == written  # reused, not written again
    tokens = np.asarray(first.tokens())
    assert "".join(first.vocab[i] for i in tokens) == VERSE and first.length == len(VERSE)
    verse.write_text(VERSE + "Zz\n", encoding="utf-8")  # a changed file: a new folder, encoded again
    changed = encode_file(verse, cache_dir=tmp_path / "cache")
    assert changed.path.parent != first.path.parent and changed.length == len(VERSE) + 3 and "Z" in changed.vocab
    assert len(list((tmp_path / "cache").iterdir())) == 2
    assert not list((tmp_path / "cache").rglob("*.tmp"))  # atomic writes leave no temporary file


def test_dtype_is_the_smallest_that_fits(tmp_path):
    assert [smallest_dtype(n).name for n in (2, 256, 257, 65536, 65537)] == [
        "uint8",
        "uint8",
        "uint16",
        "uint16",
        "uint32",
    ]
    path = tmp_path / "many.txt"
    text = "".join(chr(0x400 + i) for i in range(300)) * 3  # 300 distinct Cyrillic and beyond: uint16
    path.write_text(text, encoding="utf-8")
    tokens = encode_file(path, cache_dir=tmp_path / "cache")
    assert tokens.dtype == "uint16" and tokens.tokens().dtype == np.uint16
    assert "".join(tokens.vocab[i] for i in tokens.tokens()) == text


def test_undecodable_byte_is_one_line(tmp_path, capsys):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"first line\nsecond \xff line\n" + VERSE.encode())
    with pytest.raises(SystemExit) as e:
        cli_main(["fit", *text_args(tmp_path, path)])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err and "Traceback" not in err
    assert f"{path}, byte 18 (line 2)" in err and "--data.encoding" in err


@pytest.mark.parametrize("content", ["", "short text\n"])
def test_too_short_file_is_one_line(tmp_path, capsys, content):
    path = tmp_path / "short.txt"
    path.write_text(content)
    with pytest.raises(SystemExit) as e:
        cli_main(["fit", *text_args(tmp_path, path)])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err
    assert f"holds {len(content)} characters" in err and "one window of 17 characters" in err
    assert "it needs at least 171 characters" in err


def test_training_windows_are_seeded_per_batch_and_process(verse):
    tokens = encode_file(verse, cache_dir=verse.parent / "cache")
    n = tokens.length

    def at(start: int, layout: str = WORDS, context: int = 1, shard: Shard | None = None) -> TrainWindows:
        return TrainWindows(Span(tokens.tokens, 0, n, 8, layout, context), 4, 3, lambda: start, shard or Shard())

    one, resumed = list(at(0)), list(at(2))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(one[2:], resumed))  # batch 2 is batch 2, resumed or not
    assert not torch.equal(next(iter(at(0, shard=Shard(1, 2))))[0], one[0][0])  # each process its own windows
    x, y, count, total, _ = one[0]
    assert x.shape == y.shape == (4, 8) and torch.equal(x[:, 1:], y[:, :-1]) and count is None and total == 32
    assert len(at(0)) == math.ceil(n / (8 * 4))  # an epoch covers the training text once
    x, y, _, total, _ = at(0, layout=WINDOWS, context=3).batch(0)  # a window model: each target after 3 characters
    stream = np.asarray(tokens.tokens())
    starts = at(0).starts(0)
    assert x.shape == (32, 3) and total == 32 and y[0] == stream[starts[0] + 1]
    assert x[0].tolist() == [stream[i] if i >= 0 else 0 for i in range(starts[0] - 2, starts[0] + 1)]


@pytest.mark.parametrize("layout", [WORDS, WINDOWS, COUNTED])
@pytest.mark.parametrize("world_size", [1, 2])
def test_validation_predicts_every_held_out_character_once(verse, layout, world_size):
    tokens = encode_file(verse, cache_dir=verse.parent / "cache")
    stream = torch.from_numpy(np.asarray(tokens.tokens(), dtype=np.int64))
    start, end = 1000, 2345
    span = Span(tokens.tokens, start, end, 16, layout, context=3)
    shares = [list(EvalText(span, 7, Shard(r, world_size))) for r in range(world_size)]
    assert len({len(share) for share in shares}) == 1  # every process the same number of chunks
    targets, before, totals = [], [], set()
    for chunks in zip(*shares):  # round robin: chunk i of every process, in order
        for x, y, _, total, _ in chunks:
            totals.add(float(total))
            targets.append(y[y != PAD])
            before.append(x[y != PAD] if layout == WORDS else x[:, -1])  # the character before each target
    assert torch.equal(torch.cat(targets), stream[start:end]) and totals == {end - start}
    assert torch.equal(torch.cat(before), stream[start - 1 : end - 1])
    again = EvalText(span, 7, Shard(0, world_size))
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(again, shares[0]))


def test_fit_and_test_from_the_cli(tmp_path, verse):
    args = text_args(
        tmp_path, verse, "--trainer.max_steps", "6", "--trainer.val_check_interval", "3",
        "--data.test_fraction", "0.1", "--model.lr_scheduler", "null", "--data.eval_batch_size", "2",
    )  # fmt: skip
    cli = run_cli(MakemoreCLI, ["fit", *args])
    metrics = cli.trainer.callback_metrics
    assert cli.model.text and cli.model.hparams.text and cli.model.block_size == 16
    assert metrics["val/bpc"].item() == pytest.approx(metrics["val/nll"].item() / math.log(2), rel=1e-5)
    assert metrics["val/nll"].item() < math.log(len(cli.datamodule.vocab))  # it learned something in 6 steps
    ckpt = next((tmp_path / "logs").rglob("last.ckpt"))
    saved = torch.load(ckpt, weights_only=True)
    assert saved["vocab"] == sorted(set(VERSE)) and saved["hyper_parameters"]["text"] is True
    tested = run_cli(MakemoreCLI, ["test", "--ckpt_path", str(ckpt), "--trainer.enable_progress_bar", "false"])
    assert "test/nll" in tested.trainer.callback_metrics and "test/bpc" in tested.trainer.callback_metrics
    copied = tmp_path / "copied.ckpt"  # out of its run's folder: the checkpoint's own data options say it is text
    copied.write_bytes(ckpt.read_bytes())
    validated = run_cli(MakemoreCLI, ["validate", "--ckpt_path", str(copied), "--trainer.enable_progress_bar", "false"])
    assert validated.trainer.callback_metrics["val/nll"].item() == pytest.approx(metrics["val/nll"].item(), rel=1e-6)
    # limit_val_batches 0.25 reads the first quarter of the chunks (of 2 windows, 32 characters): the mean is over them,
    # not their sum over the whole split's length.
    assert len(cli.datamodule.val_dataloader()) > 8
    quarter = ["--trainer.limit_val_batches", "0.25", "--trainer.enable_progress_bar", "false"]
    limited = run_cli(MakemoreCLI, ["validate", "--ckpt_path", str(copied), *quarter])
    assert 0.5 < limited.trainer.callback_metrics["val/nll"].item() / metrics["val/nll"].item() < 2.0


def test_resume_draws_the_windows_of_the_uninterrupted_run(tmp_path, verse):
    def run(folder: str, steps: int, *extra: str):
        args = text_args(
            tmp_path / folder, verse, "--trainer.max_steps", str(steps), "--trainer.val_check_interval", "3",
            "--model.lr_scheduler", "null", "--trainer.limit_val_batches", "1", *extra,
        )  # fmt: skip
        return run_cli(MakemoreCLI, ["fit", *args])

    straight = run("straight", 6)
    run("stopped", 3)
    ckpt = next((tmp_path / "stopped" / "logs").rglob("last.ckpt"))
    resumed = run("stopped", 6, "--ckpt_path", str(ckpt))
    assert resumed.trainer.global_step == 6
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b), name


def test_window_models_and_counts_read_text(tmp_path, verse):
    data = TextDataModule(str(verse), block_size=8, context=3, batch_size=4, cache_dir=str(tmp_path / "cache"))
    model = MLP(data.vocab, context=3, embedding=4, hidden=8, text=True)
    quiet = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer = L.Trainer(max_steps=3, val_check_interval=3, check_val_every_n_epoch=None, **quiet)
    trainer.fit(model, data)
    assert trainer.global_step == 3 and trainer.callback_metrics["val/bpc"] > 0
    data = TextDataModule(str(verse), context=2, batch_size=None, cache_dir=str(tmp_path / "cache"))
    counts = CountNGram(data.vocab, context=2, text=True)
    trainer = L.Trainer(max_epochs=1, **quiet)
    trainer.fit(counts, data)
    assert counts.counts.sum() == data.bounds["train"][1]  # every training character counted once
    assert trainer.callback_metrics["val/nll"] < math.log(data.vocab_size)


@pytest.mark.parametrize("config", sorted((REPO / "configs" / "text").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_text_config_builds(tmp_path, verse, config):
    cli = run_cli(
        MakemoreCLI, ["--config", str(config), "--data.path", str(verse), "--data.cache_dir", str(tmp_path)], run=False
    )
    assert isinstance(cli.datamodule, TextDataModule) and cli.model.text
    assert cli.model.vocab_size == len(set(VERSE))


@pytest.mark.slow
def test_two_processes_train_on_text_and_validate_like_one(tmp_path, verse):
    args = text_args(
        tmp_path, verse, "--trainer.max_steps", "3", "--trainer.val_check_interval", "3",
        "--model.lr_scheduler", "null", "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp_spawn",
        "--trainer.devices", "2",
    )  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "makemore_pl", "fit", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    run = next((tmp_path / "logs").rglob("version_*"))
    (logged,) = scalars(run, "val/nll")  # two processes, each its share of the held-out text
    ckpt = run / "checkpoints" / "last.ckpt"
    one_process = ["--trainer.devices", "1", "--trainer.strategy", "auto"]
    one = run_cli(MakemoreCLI, ["validate", "--ckpt_path", str(ckpt), *one_process])
    assert one.trainer.callback_metrics["val/nll"].item() == pytest.approx(logged, rel=1e-5)
