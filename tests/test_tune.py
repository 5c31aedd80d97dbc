"""`makemore-pl-tune` on Optuna, in-process: a search space, pruning, the Pareto front, and bad input in one line."""

import math

import optuna
import pytest
from conftest import fit_args
from helpers import scalars
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from makemore_pl.cli import cli_main
from makemore_pl.cli.tune import tune, tune_main

SPACE = (
    "{model.optimizer.init_args.lr: {low: 0.05, high: 1.0, log: true}, model.l2: [0, 0.01], data.batch_size: [16, 64]}"
)

TWO_OBJECTIVES = [
    "--tune.space",
    "{model.l2: [0, 1]}",
    "--tune.trials",
    "2",
    "--tune.objectives",
    "[val/nll, time_to:2]",
]


def bigram(tmp_path, words, *extra):
    return fit_args(tmp_path, words, "configs/bigram.yaml", "--trainer.max_epochs", "6", *extra)


def study_of(tmp_path, name="bigram"):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{tmp_path / 'logs' / name / 'study.db'}")


def test_a_space_of_three_options_is_searched_pruned_logged_and_its_best_reproduced(tmp_path, tiny_file, capsys):
    pruner = ["--tune.pruner", "optuna.pruners.MedianPruner", "--tune.pruner.init_args.n_startup_trials", "1"]
    args = bigram(tmp_path, tiny_file, "--tune.space", SPACE, "--tune.trials", "4", "--tune.seed", "3", *pruner)
    printed = tune(args)
    assert printed == capsys.readouterr().out.rstrip("\n") + "\n"
    trials = study_of(tmp_path).get_trials()
    assert len(trials) == 4 and {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    assert set(trials[0].params) == {"model.optimizer.init_args.lr", "model.l2", "data.batch_size"}
    # The table on stdout is the one saved in the log folder, a row per trial with its state.
    assert (tmp_path / "logs" / "bigram" / "bigram.trials.md").read_text() == printed
    rows = [line for line in printed.splitlines() if line.startswith("| ") and "trial" not in line]
    assert [row.split("|")[-2].strip() for row in rows] == [t.state.name for t in trials]
    for t in trials:
        # Each trial ran in its own folder, with its values in its config and its number in the hparams view.
        run = tmp_path / "logs" / "bigram" / "bigram" / f"trial_{t.number}"
        assert f"lr: {t.params['model.optimizer.init_args.lr']}" in (run / "config.yaml").read_text()
        # Pruned at its first validation, a trial is stopped before Lightning's checkpoints, which run last.
        assert (run / "checkpoints").is_dir() or t.state.name == "PRUNED"
        events = EventAccumulator(str(run))
        events.Reload()
        start = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info.hparams
        assert hparams["trial"].number_value == t.number
        assert hparams["model.l2"].number_value == t.params["model.l2"]
        assert scalars(run, "tune/val_nll")[0] == pytest.approx(t.user_attrs["val/nll"])
        if t.state.name == "PRUNED":  # stopped at the validation where it fell behind the median
            assert len(scalars(run, "val/nll")) < 6
    best = min((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.value)
    assert f"the best trial: trial {best.number}, val/nll {best.value:.4f}, test/nll " in printed
    # The printed command is the best trial again, as a plain fit.
    command = printed.split("reproduce it with:\n  ")[1].strip().split(" ")
    assert command[:2] == ["makemore-pl", "fit"]
    cli_main([*command[1:], "--trainer.logger.init_args.name", "again"])
    assert min(scalars(next((tmp_path / "logs" / "again").iterdir()), "val/nll")) == pytest.approx(best.value)


def test_the_seed_draws_the_same_trials_and_a_resumed_study_runs_no_more(tmp_path, tiny_file, capsys):
    space = "{model.smoothing: {low: 0.0, high: 5.0}}"
    args = fit_args(tmp_path, tiny_file, "configs/counts.yaml", "--tune.space", space, "--tune.trials", "3")
    for name in ("first", "second"):
        tune([*args, "--tune.study", name, "--tune.seed", "7"])
    storage = f"sqlite:///{tmp_path / 'logs' / 'counts' / 'study.db'}"
    first, second = (optuna.load_study(study_name=n, storage=storage).trials for n in ("first", "second"))
    assert [t.params for t in first] == [t.params for t in second] and len(first) == 3
    capsys.readouterr()
    printed = tune([*args, "--tune.study", "second", "--tune.seed", "7"])  # finished: reported again, nothing run
    assert len(optuna.load_study(study_name="second", storage=storage).trials) == 3
    # The best trial's test/nll is its checkpoint's, as `makemore-pl test` measures it.
    best = optuna.load_study(study_name="second", storage=storage).best_trial
    capsys.readouterr()
    trial_options = [arg for option, value in best.params.items() for arg in (f"--{option}", repr(value))]
    ckpt = best.user_attrs["ckpt_path"]
    cli_main(["test", *fit_args(tmp_path, tiny_file, "configs/counts.yaml"), "--ckpt_path", ckpt, *trial_options])
    test_nll = float(capsys.readouterr().out.split("test/nll")[1].split()[0])
    assert f"test/nll {test_nll:.4f}" in printed


def test_two_objectives_give_a_pareto_front_without_pruning(tmp_path, tiny_file, capsys):
    target = 2.75
    args = bigram(tmp_path, tiny_file, "--tune.space", SPACE, "--tune.trials", "4")
    printed = tune([*args, "--tune.objectives", f"[val/nll, steps_to:{target}]"])
    study = study_of(tmp_path)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4  # no pruning for two objectives
    for t in study.trials:
        val_nll, steps = t.values
        curve = scalars(tmp_path / "logs" / "bigram" / "bigram" / f"trial_{t.number}", "val/nll")
        reached = [i for i, value in enumerate(curve) if value <= target]
        # steps_to is the step of the first validation at or under the target, inf when there was none.
        assert math.isinf(steps) == (not reached)
        assert val_nll == pytest.approx(min(curve))
    front = {t.number for t in study.best_trials}
    marked = {int(row.split("|")[1].strip("* ")) for row in printed.splitlines() if row.startswith("| **")}
    assert marked == front and front
    assert "the Pareto front (marked **)" in printed


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            ["--tune.space", "{model.dropout: [0, 0.1]}"],
            "--tune.space model.dropout: NeuralNGram has no option 'dropout'",
        ),
        (["--tune.space", "{model.l2: {low: 0.1, high: 0.01}}"], "the range is empty: low 0.1 > high 0.01"),
        (["--tune.space", "{model.l2: []}"], "--tune.space model.l2: the list of choices is empty"),
        (["--tune.option", "l2"], "give either --tune.space, or --tune.option with --tune.values"),
        (["--tune.space", "{model.l2: [0, 1]}"], "a search needs an end: give --tune.trials"),
        (
            [*TWO_OBJECTIVES, "--tune.pruner", "optuna.pruners.MedianPruner"],
            "--tune.pruner: Optuna prunes single-objective studies only",
        ),
        (
            ["--tune.space", "{model.l2: [0, 1]}", "--tune.trials", "2", "--tune.objectives", "[speed]"],
            "unknown objective",
        ),
    ],
)
def test_bad_input_gets_one_line(tmp_path, tiny_file, capsys, extra, expected):
    assert expected in one_error_line(capsys, bigram(tmp_path, tiny_file, *extra))
    assert not (tmp_path / "logs" / "bigram" / "bigram").exists()  # no trial ran


def test_an_unreachable_storage_and_a_study_of_another_space_are_refused(tmp_path, tiny_file, capsys):
    args = bigram(tmp_path, tiny_file, "--tune.trials", "1", "--tune.space")
    line = one_error_line(capsys, [*args, "{model.l2: [0, 1]}", "--tune.storage", "postgresql://tuner@127.0.0.1:9/x"])
    assert line.startswith("makemore-pl-tune: error: --tune.storage postgresql://tuner@127.0.0.1:9/x: cannot open")
    tune([*args, "{model.l2: [0, 1]}"])
    capsys.readouterr()
    line = one_error_line(capsys, [*args, "{model.l2: [0, 2]}"])
    assert "--tune.study bigram: the study in " in line and "searched another space" in line
    assert len(study_of(tmp_path).trials) == 1


def one_error_line(capsys, args) -> str:
    with pytest.raises(SystemExit) as exit_:
        tune_main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert len(lines) == 1 and lines[0].startswith("makemore-pl-tune: error: "), err
    return lines[0]
