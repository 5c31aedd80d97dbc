"""Everyday use: a resumed run goes on in its folder, a checkpoint samples in one short command to a clean
stdout, and the console shows no warning that a user cannot act on."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO, TINY_WORDS, fit_args
from helpers import words_for
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from makemore_pl.cli import MakemoreCLI, cli_main, run_cli

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
# predict --ckpt_path alone, with the words file moved away and the checkpoint out of its run folder:
# the bigram, a counting model, and a model of the series.
ALONE = ("bigram.yaml", "counts.yaml", "transformer.yaml")
# The warnings that docs/console.md lists as ones a user can act on.
ACTIONABLE = ("is smaller than the logging interval",)
# How Python prints a warning ("file.py:12: message"), and the words that flag one otherwise.
WARNING = re.compile(r"\.py:\d+: |warn|deprecat|💡", re.IGNORECASE)


def versions(tmp_path: Path, name: str) -> list[Path]:
    return sorted((tmp_path / "logs" / name).glob("version_*"))


def steps(run: Path, tag: str) -> list[int]:
    """The steps of a scalar as TensorBoard shows it, from all of the run's event files."""
    events = EventAccumulator(str(run))
    events.Reload()
    return [event.step for event in events.Scalars(tag)]


def weights(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, weights_only=True)["state_dict"]


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


# Mini-batches, one per epoch of the tiny file, under a one-cycle schedule of 12 steps. No max_steps: with
# one, Lightning 2.6 logs a resumed run's steps one on (training_epoch_loop.advance, "restarted_on_last").
MINI_BATCHES = ["--trainer.max_steps", "-1", "--model.lr_scheduler.init_args.total_steps", "12"]


@pytest.mark.parametrize(
    ("config", "extra"),
    [
        ("lecture.yaml", []),  # full batch, no validation
        ("mlp.yaml", [*MINI_BATCHES, "--trainer.log_every_n_steps", "1"]),  # validated at every epoch's end
    ],
)
def test_a_resumed_fit_goes_on_in_its_own_folder(tmp_path, tiny_file, config, extra):
    name = config.removesuffix(".yaml")
    args = ["fit", *fit_args(tmp_path, tiny_file, f"configs/{config}"), *extra]
    cli_main([*args, "--trainer.max_epochs", "6"])
    (run,) = versions(tmp_path, name)
    started_with = (run / "config.yaml").read_text()
    last = run / "checkpoints" / "last.ckpt"

    cli_main([*args, "--trainer.max_epochs", "12", "--ckpt_path", str(last)])
    assert versions(tmp_path, name) == [run]
    assert steps(run, "train/loss") == list(range(12))  # one curve, every step once
    assert (run / "config.yaml").read_text() == started_with
    assert "max_epochs: 12" in (run / "config_2.yaml").read_text()  # the changed option, kept beside it
    assert not list((run / "checkpoints").glob("last-v*.ckpt"))  # last.ckpt replaced in place

    straight = ["fit", *fit_args(tmp_path / "straight", tiny_file, f"configs/{config}"), *extra]
    cli_main([*straight, "--trainer.max_epochs", "12"])
    assert_same_weights(last, tmp_path / "straight" / "logs" / name / "version_0" / "checkpoints" / "last.ckpt")

    # The short command, with the run's own config: the same options again, so no third config.
    cli_main(["fit", "--ckpt_path", str(last), "--trainer.max_epochs", "12"])
    assert sorted(p.name for p in run.glob("config*.yaml")) == ["config.yaml", "config_2.yaml"]
    assert versions(tmp_path, name) == [run]


def test_last_ckpt_is_the_last_epoch_also_when_val_nll_stopped_improving(tmp_path, tiny_file):
    # Adam at lr 0.5 overfits the tiny file's bigrams within 30 steps: val/nll turns back up.
    cli_main(["fit", *fit_args(tmp_path, tiny_file), "--trainer.max_epochs", "30"])
    (run,) = versions(tmp_path, "bigram")
    events = EventAccumulator(str(run))
    events.Reload()
    val = [e.value for e in events.Scalars("val/nll")]
    assert min(val) < val[-1]  # the best epoch is not the last
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == len(val)


def test_asked_for_a_new_version_starts_from_the_checkpoint_and_leaves_the_run_as_it_was(tmp_path, tiny_file):
    cli_main(["fit", *fit_args(tmp_path, tiny_file, "configs/lecture.yaml"), "--trainer.max_epochs", "3"])
    (run,) = versions(tmp_path, "lecture")
    last = run / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    cli_main(["fit", "--ckpt_path", str(last), "--trainer.max_epochs", "5", "--new_version", "true"])
    assert versions(tmp_path, "lecture") == [run, run.with_name("version_1")]
    assert steps(run.with_name("version_1"), "train/loss") == [3, 4]
    assert steps(run, "train/loss") == [0, 1, 2] and last.read_bytes() == before


def fit_tiny(tmp_path, tiny_file, config="configs/bigram.yaml") -> Path:
    cli_main(["fit", *fit_args(tmp_path, tiny_file, config), "--trainer.max_epochs", "3", "--trainer.max_steps", "3"])
    name = Path(config).stem
    return versions(tmp_path, name)[-1] / "checkpoints" / "last.ckpt"


def test_a_checkpoint_alone_is_tested_and_sampled_with_the_options_given(tmp_path, tiny_file, capsys):
    last = fit_tiny(tmp_path, tiny_file)
    capsys.readouterr()
    cli_main(["test", "--ckpt_path", str(last)])
    assert re.search(r"test/nll\s+\d\.\d+", capsys.readouterr().out)  # the table, on stdout
    cli_main(["validate", "--ckpt_path", str(last)])
    assert re.search(r"val/nll\s+\d\.\d+", capsys.readouterr().out)

    # The command line overrides the run's config; the model's checkpoint holds no sampling option.
    cli = run_cli(MakemoreCLI, ["predict", "--ckpt_path", str(last), "--sampling.temperature", "0.5"])
    assert cli.datamodule.sampling.temperature == 0.5 and "temperature" not in cli.model.hparams
    capsys.readouterr()
    cli_main(["predict", "--ckpt_path", str(last), "--sampling.num_samples", "11"])
    assert len(capsys.readouterr().out.splitlines()) == 11


def test_a_validation_cut_by_limit_val_batches_is_the_mean_over_the_batches_read(tmp_path, tiny_file):
    args = [*fit_args(tmp_path, tiny_file), "--data.eval_batch_size", "1", "--trainer.max_steps", "3"]
    cli_main(["fit", *args])
    last = versions(tmp_path, "bigram")[-1] / "checkpoints" / "last.ckpt"
    full = run_cli(MakemoreCLI, ["validate", "--ckpt_path", str(last), "--trainer.enable_progress_bar", "false"])
    assert len(full.datamodule.val_dataloader()) >= 8  # one counted bigram a batch
    quarter = ["--trainer.limit_val_batches", "0.25", "--trainer.enable_progress_bar", "false"]
    cut = run_cli(MakemoreCLI, ["validate", "--ckpt_path", str(last), *quarter])
    # A quarter of the bigrams: about the same mean, not a quarter of it.
    assert 0.6 < cut.trainer.callback_metrics["val/nll"].item() / full.trainer.callback_metrics["val/nll"].item() < 1.6


def test_a_command_from_a_checkpoint_that_cannot_run_says_why_in_one_line(tmp_path, tiny_file, capsys):
    last = fit_tiny(tmp_path, tiny_file)
    saved = torch.load(last, weights_only=True)
    del saved["datamodule_hyper_parameters"]  # a checkpoint that does not record its words file
    alone = tmp_path / "elsewhere" / "alone.ckpt"
    alone.parent.mkdir()
    torch.save(saved, alone)
    for args, named in [
        (["test", "--ckpt_path", str(alone)], "--data.path"),
        (["fit", "--ckpt_path", str(alone)], "--config"),
        (["predict", "--ckpt_path", str(tmp_path / "nope.ckpt")], "nope.ckpt: no such checkpoint file"),
    ]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            cli_main(args)
        assert exit_.value.code == 2
        (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
        assert line.startswith("makemore-pl: error: ") and named in line, line


def test_evaluating_a_split_that_is_not_there_says_which_option_holds_it_out(tmp_path, tiny_file, capsys):
    last = fit_tiny(tmp_path, tiny_file, "configs/lecture.yaml")  # trains on every word: no val, no test
    for command, option in [("test", "--data.test_fraction"), ("validate", "--data.val_fraction")]:
        with pytest.raises(SystemExit):
            cli_main([command, "--ckpt_path", str(last)])
        assert option in capsys.readouterr().err.strip().splitlines()[-1]


def makemore(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real command in its own process, its stdout and stderr through pipes, as a shell pipeline has them."""
    return subprocess.run([sys.executable, "-m", "makemore_pl", *args], capture_output=True, text=True, cwd=cwd)


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if WARNING.search(line) and not any(a in line for a in ACTIONABLE)]


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_config_fits_quietly_and_predicts_only_words_to_stdout(tmp_path, tiny_file, config):
    # As a user runs it: progress bar and model summary on. The budget is cut to a few steps.
    fit = makemore(
        "fit", "--config", str(config), "--data.path", str(words_for(config, tiny_file, tmp_path)),
        "--trainer.logger.init_args.save_dir", str(tmp_path / "logs"),
        "--trainer.max_epochs", "2", "--trainer.max_steps", "4",
        cwd=tmp_path,
    )  # fmt: skip
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert warnings_in(fit.stderr) == []
    assert "Total params" in fit.stderr  # the model summary is still shown
    last = next((tmp_path / "logs").rglob("last.ckpt"))

    if config.name in ALONE:  # no words file, no run folder: the checkpoint alone
        tiny_file.rename(tmp_path / "moved.txt")
        last = last.rename(tmp_path / "alone.ckpt")
    predict = makemore("predict", "--ckpt_path", str(last), "--sampling.num_samples", "9", cwd=tmp_path)
    assert predict.returncode == 0, predict.stderr[-3000:]
    words = [line.split("\t")[0] for line in predict.stdout.split("\n")]  # a labelled model prints word<TAB>label
    assert len(words) == 10 and words[-1] == "", predict.stdout  # nine lines, each ended by a newline
    alphabet = set("".join(TINY_WORDS))
    assert all(set(word) <= alphabet for word in words), predict.stdout  # no "\r", no progress text
    assert warnings_in(predict.stderr) == []
    if config.name in ALONE:  # the checkpoint keeps its training words: each sampled word is marked new or train
        assert re.search(r"sampled 9 words, \d+ new and \d+ from the training words", predict.stderr), predict.stderr


def test_the_console_page_lists_each_warning_it_calls_actionable():
    console = (REPO / "docs" / "console.md").read_text()
    assert all(warning in console for warning in ACTIONABLE)


def test_a_one_cycle_schedule_of_exactly_ten_steps_trains(tmp_path, tiny_file):
    # OneCycleLR's warm-up is pct_start * total_steps - 1 steps long: 0 at pct_start 0.1 and 10 steps,
    # where torch divides by it. A warm-up under one step is none: the run starts at max_lr.
    args = fit_args(tmp_path, tiny_file, "configs/mlp.yaml", "--trainer.max_steps", "10")
    cli = run_cli(MakemoreCLI, ["fit", *args, "--model.embedding", "2", "--model.hidden", "8"])
    assert cli.trainer.global_step == 10
    (scheduler,) = cli.trainer.lr_scheduler_configs
    assert scheduler.scheduler.total_steps == 10
    max_lr = cli.model.optimizers().param_groups[0]["max_lr"]
    assert scheduler.scheduler.get_last_lr()[0] < max_lr / 10  # annealed over the cycle
