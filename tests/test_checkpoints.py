"""One set of checkpoint checks: every command that names a checkpoint refuses a bad one in the same line."""

import pytest
import torch

from makemore_pl.cli import cli_main

# Each command, and the option through which it names the checkpoint.
COMMANDS = [
    (["predict", "--ckpt_path"], "--ckpt_path"),
    (["test", "--config", "configs/bigram.yaml", "--ckpt_path"], "--ckpt_path"),
    (["fit", "--config", "configs/bigram.yaml", "--init_from"], "--init_from"),
    (["score", "--words", "ava", "--ckpt_path"], "--ckpt_path"),
    (["export", "--output", "never.onnx", "--ckpt_path"], "--ckpt_path"),
]


class Pickled:
    pass


@pytest.fixture(scope="module")
def bad_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "garbage.ckpt").write_text("not a checkpoint")
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 0.1}}, folder / "foreign.ckpt")
    torch.save({"state_dict": {}, "thing": Pickled()}, folder / "pickled.ckpt")
    return {
        "missing": (folder / "missing.ckpt", "no such checkpoint file"),
        "garbage": (folder / "garbage.ckpt", "not a readable checkpoint file (RuntimeError)"),
        "foreign": (folder / "foreign.ckpt", "not a makemore-pl checkpoint (it records no model class and vocabulary)"),
        "pickled": (folder / "pickled.ckpt", "refusing the checkpoint, it holds pickled objects, not only weights"),
    }


@pytest.mark.parametrize("command, option", COMMANDS, ids=lambda c: c[0] if isinstance(c, list) else None)
def test_every_command_refuses_a_bad_checkpoint_with_the_same_line(command, option, bad_checkpoints, capsys):
    for path, message in bad_checkpoints.values():
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            cli_main([*command, str(path)])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_.value.code == 2 and len(err) == 1, err
        assert err[0].endswith(f": error: {option} {path}: {message}"), err
