"""The fine-tuning recipe (``--finetune.*``): shrink and perturb, new characters' bias, the pull, the details."""

import math
from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY_WORDS, tiny_args, words_file
from helpers import BAD_RECIPES
from test_finetune import NEW_CHARS, NEW_WORDS, quick_base

from makemore_pl import recipe
from makemore_pl.callbacks.stay_near import StayNear
from makemore_pl.cli import MakemoreCLI, arguments, cli_main, run_cli
from makemore_pl.data.datamodule import WordsDataModule


@pytest.fixture
def new_words(tmp_path: Path) -> Path:
    return words_file(tmp_path / "new_words.txt", NEW_WORDS)


@pytest.fixture(scope="module")
def gru_ckpt(tmp_path_factory) -> Path:
    """A GRU's checkpoint after 2 steps on the tiny words: trained once, the module's tests only read it."""
    folder = tmp_path_factory.mktemp("gru")
    words = words_file(folder / "tiny.txt", TINY_WORDS)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # whatever the run writes to a relative path lands here
        return quick_base(folder, words, "gru")


def started(tmp_path: Path, words: Path, ckpt: Path, options: recipe.FineTuning):
    """A fine-tuning run's model built and started by ``options``, not yet trained; and its fresh weights."""
    # The fit command's arguments, completed from the checkpoint as the command line does, built but not run.
    args = arguments.complete_arguments(["fit", *tiny_args(tmp_path, words, "gru", "--init_from", str(ckpt))])[1:]
    cli = run_cli(MakemoreCLI, args, run=False)
    fresh = {name: p.detach().clone() for name, p in cli.model.named_parameters()}
    saved = torch.load(ckpt, weights_only=True)
    recipe.start(cli.model, cli.trainer, saved, str(ckpt), cli.datamodule, options)
    return cli, fresh, saved["state_dict"]


def test_shrink_and_perturb_start_each_weight_between_the_checkpoint_and_a_fresh_one(tmp_path, new_words, gru_ckpt):
    cli, fresh, state = started(tmp_path, new_words, gru_ckpt, recipe.FineTuning(shrink=0.5, perturb=0.1))
    recurrent = dict(cli.model.named_parameters())["network.rnn.weight_hh_l0"]  # indexed by nothing of the vocabulary
    expected = 0.5 * state["network.rnn.weight_hh_l0"] + 0.1 * fresh["network.rnn.weight_hh_l0"]
    torch.testing.assert_close(recurrent.detach(), expected)
    plain, _, _ = started(tmp_path, new_words, gru_ckpt, recipe.FineTuning(shrink=1, perturb=0))
    torch.testing.assert_close(
        dict(plain.model.named_parameters())["network.rnn.weight_hh_l0"].detach(), state["network.rnn.weight_hh_l0"]
    )


def test_the_start_keeps_half_of_a_small_lists_checkpoint_and_a_tenth_of_a_large_ones(
    tmp_path, new_words, gru_ckpt, capsys
):
    by_size = recipe.FineTuning()
    assert by_size.start_weights(recipe.LARGE_LIST - 1) == (0.5, 0.1)
    assert by_size.start_weights(recipe.LARGE_LIST) == (0.1, 0.9)
    assert recipe.FineTuning(shrink=1, perturb=0).start_weights(10**6) == (1, 0)  # given, they hold at any size
    name = "network.rnn.weight_hh_l0"
    for large_list, (shrink, perturb) in ((10**6, (0.5, 0.1)), (1, (0.1, 0.9))):  # the tiny list: small, then large
        cli, fresh, state = started(tmp_path, new_words, gru_ckpt, recipe.FineTuning(large_list=large_list))
        expected = shrink * state[name] + perturb * fresh[name]
        torch.testing.assert_close(dict(cli.model.named_parameters())[name].detach(), expected)
        words = len(cli.datamodule.train_words)
        start = f"each weight starts at {shrink:g} x the checkpoint's + {perturb:g} x a fresh one ({words} training"
        assert start in capsys.readouterr().err


def test_a_new_characters_bias_follows_its_frequency_in_the_new_words(tmp_path, new_words, gru_ckpt):
    cli, _, state = started(tmp_path, new_words, gru_ckpt, recipe.FineTuning(shrink=1, perturb=0))
    model = cli.model
    bias = model.network.head.bias.detach()
    train = WordsDataModule(str(new_words)).split_words()["train"]
    log_freq = recipe.unigram_log_frequency(train, model.itos)
    new = [model.itos.index(c) for c in NEW_CHARS if math.isfinite(log_freq[model.itos.index(c)])]
    assert len(new) >= 2
    # Every new character's bias is its log frequency plus one shift, shared with the known characters.
    shifts = bias[new] - log_freq[new]
    torch.testing.assert_close(shifts, shifts[0].expand_as(shifts))
    e_acute, j = model.itos.index("é"), model.itos.index("j")
    assert "".join(train).count("é") > "".join(train).count("j") and bias[e_acute] > bias[j]
    lowest, _, _ = started(
        tmp_path, new_words, gru_ckpt, recipe.FineTuning(shrink=1, perturb=0, new_char_bias="lowest")
    )
    assert lowest.model.network.head.bias[e_acute] == state["network.head.bias"].min()


def test_an_accented_letter_starts_from_its_base_letters_rows(tmp_path, new_words, gru_ckpt):
    options = {"shrink": 1, "perturb": 0, "new_char_bias": "lowest"}
    for rows in ("base", "mean"):
        cli, _, state = started(tmp_path, new_words, gru_ckpt, recipe.FineTuning(**options, new_char_rows=rows))
        model, old = cli.model, torch.load(gru_ckpt, weights_only=True)["vocab"]
        for table, saved in (
            (model.network.tokens.weight, "network.tokens.weight"),
            (model.network.head.weight, "network.head.weight"),
        ):
            for char, base in (("é", "e"), ("è", "e"), ("ô", "o"), ("j", None)):
                expected = state[saved].mean(0) if rows == "mean" or base is None else state[saved][old.index(base)]
                torch.testing.assert_close(table[model.itos.index(char)].detach(), expected)
    assert recipe.base_letter("é", ["e"]) == "e" and recipe.base_letter("ç", ["e"]) is None


def test_stay_near_pulls_the_weights_towards_the_checkpoint(tmp_path, new_words, gru_ckpt):
    state = torch.load(gru_ckpt, weights_only=True)["state_dict"]
    gaps = {}
    for strength in ("0", "10000"):
        options = ["--finetune.shrink", "1", "--finetune.perturb", "0", "--finetune.stay_near", strength]
        args = tiny_args(tmp_path, new_words, "gru", "--trainer.max_steps", "6", "--init_from", str(gru_ckpt), *options)
        cli = run_cli(MakemoreCLI, ["fit", *args])
        assert any(isinstance(c, StayNear) for c in cli.trainer.callbacks) == (strength != "0")
        weights = cli.model.network.rnn.weight_hh_l0.detach()
        gaps[strength] = (weights - state["network.rnn.weight_hh_l0"]).norm().item()
        if strength != "0":  # the pull replaces the decay towards zero
            assert all(group["weight_decay"] == 0 for group in cli.trainer.optimizers[0].param_groups)
    assert 0 < gaps["10000"] < 0.5 * gaps["0"]


def test_a_fine_tuning_says_how_the_vocabulary_grew_and_its_config_records_the_checkpoint(
    tmp_path, new_words, gru_ckpt, capsys
):
    cli_main(["fit", *tiny_args(tmp_path, new_words, "gru", "--trainer.max_epochs", "1"), "--init_from", str(gru_ckpt)])
    err = capsys.readouterr().err
    grown = " ".join(sorted(NEW_CHARS))
    assert f"--init_from {gru_ckpt}: the vocabulary grew by {len(NEW_CHARS)} characters ({grown})" in err
    run = max((tmp_path / "logs" / "gru").glob("version_*"))
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["init_from"] == str(gru_ckpt)
    assert config["finetune"] == {
        "shrink": None,
        "perturb": None,
        "large_list": recipe.LARGE_LIST,
        "new_char_bias": "frequency",
        "new_char_rows": "mean",
        "stay_near": 480.0,
        "patience": None,
    }


@pytest.mark.parametrize(("option", "value", "message"), BAD_RECIPES)
def test_bad_recipe_values_get_one_line(tmp_path, new_words, gru_ckpt, capsys, option, value, message):
    args = tiny_args(tmp_path, new_words, "gru", "--init_from", str(gru_ckpt), option, value)
    with pytest.raises(SystemExit) as exit:
        cli_main(["fit", *args])
    err = capsys.readouterr().err.strip()
    assert exit.value.code == 2 and err.startswith("makemore-pl: error: ") and message in err
    assert len(err.splitlines()) == 1
