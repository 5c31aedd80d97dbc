"""Checkpoints and run folders written while the sampling options were the model's still load, predict and serve."""

import shutil

import pytest
import torch
import yaml
from conftest import TINY_WORDS, fit_args, words_file
from test_cli import run_dir

from makemore_pl import checkpoints
from makemore_pl.cli import cli_main
from makemore_pl.sampling import legacy

# What a checkpoint of that time holds among its model's hyperparameters, and its data's.
OLD_MODEL = {
    "temperature": 0.7, "top_k": None, "prefix": "", "max_length": 50, "sample_seed": 2147483647, "label": None,
    "min_length": 0, "exclude": "", "suffix": "", "contains": "", "only_new": False, "unique": False, "beam": None,
    "max_draws": 1000, "exact": True,
}  # fmt: skip


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    """A bigram's run folder whose checkpoint and config.yaml carry the 15 old model keys and data.num_samples."""
    tmp_path = tmp_path_factory.mktemp("old")
    words = words_file(tmp_path / "tiny.txt", TINY_WORDS)
    cli_main(["fit", *fit_args(tmp_path, words, "configs/bigram.yaml", "--trainer.max_epochs", "5")])
    run = run_dir(tmp_path)
    last = run / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)
    saved["hyper_parameters"].update(OLD_MODEL)
    saved["datamodule_hyper_parameters"]["num_samples"] = 20
    torch.save(saved, last)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["init_args"].update(OLD_MODEL)
    config["data"]["num_samples"] = 20
    del config["sampling"]
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return last


def test_the_old_keys_are_the_fifteen_options_that_moved():
    assert set(legacy.MODEL_KEYS) == set(OLD_MODEL) and len(OLD_MODEL) == 15
    assert legacy.moved_flags()["--model.sample_seed"] == "--sampling.seed"


def test_an_old_checkpoint_loads_without_its_sampling_keys(old_run):
    assert set(OLD_MODEL) <= set(torch.load(old_run, weights_only=True)["hyper_parameters"])
    model = checkpoints.load_model(old_run)
    assert not set(OLD_MODEL) & set(model.hparams)
    assert len(model.sample(num_samples=4, seed=1)) == 4


def test_an_old_checkpoint_predicts_from_its_run_folder_and_alone(old_run, tmp_path, capsys):
    cli_main(["predict", "--ckpt_path", str(old_run), "--sampling.prefix", "a", "--sampling.num_samples", "5"])
    words = capsys.readouterr().out.split()
    assert len(words) == 5 and all(word.startswith("a") for word in words)
    alone = tmp_path / "alone.ckpt"  # no run folder around it: the checkpoint's own data options
    shutil.copy(old_run, alone)
    cli_main(["predict", "--ckpt_path", str(alone), "--sampling.prefix", "a", "--sampling.num_samples", "5"])
    assert capsys.readouterr().out.split() == words
