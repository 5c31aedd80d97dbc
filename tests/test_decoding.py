"""Whole-word logits, the re-running decoder and labels: the seams that sampling, beam search and scoring use."""

import pytest
import torch
from conftest import tiny_args
from helpers import FAMILY_VOCAB as VOCAB
from helpers import every_family, label_table_of, randomised

from makemore_pl import checkpoints
from makemore_pl.cli import cli_main
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.models import GRU

WORDS = ["abba", "c", "dad", "cab"]


@pytest.mark.parametrize("model", every_family(), ids=lambda m: type(m).__name__)
def test_word_logits_are_the_next_logits_after_every_prefix(model):
    model = randomised(model)
    x, _ = Vocabulary(VOCAB).encode_padded(WORDS, 6)
    with torch.no_grad():
        whole = model.word_logits(x)
        assert whole.shape == (len(WORDS), 6, len(VOCAB))
        for t in range(6):
            assert torch.allclose(whole[:, t], model.next_logits(x[:, : t + 1]), atol=1e-5)


@pytest.mark.parametrize("model", every_family(), ids=lambda m: type(m).__name__)
def test_the_rerunning_decoder_follows_fed_characters_and_kept_rows(model):
    model = randomised(model)
    x, _ = Vocabulary(VOCAB).encode_padded(WORDS, 6)
    with torch.no_grad():
        decoder = model.decoder(len(WORDS))
        for t in range(3):
            assert torch.allclose(decoder.logits(), model.next_logits(x[:, : t + 1]), atol=1e-5)
            decoder.feed(x[:, t + 1])
        assert decoder.length == 3
        rows = torch.tensor([2, 0, 2])
        decoder.keep(rows)
        assert torch.allclose(decoder.logits(), model.next_logits(x[rows, :4]), atol=1e-5)


NETWORKS = [m for m in every_family(labels=["x", "y", "z"]) if hasattr(m, "network")]


@pytest.mark.parametrize("model", NETWORKS, ids=lambda m: type(m).__name__)
def test_a_labelled_network_starts_as_the_unlabelled_one_and_reads_its_label(model):
    model.eval()
    x, _ = Vocabulary(VOCAB).encode_padded(WORDS, 6)
    label = model.label_ids(["x", "y", "z", "x"])
    with torch.no_grad():
        # The label table starts at zero: every label gives the unlabelled network's logits.
        assert torch.equal(model.word_logits(x, label), model.word_logits(x))
        model.network.get_submodule(label_table_of(model)).weight.normal_()
        conditioned = model.word_logits(x, label)
        assert not torch.allclose(conditioned, model.word_logits(x))
        # Rows 0 and 3 share their label and differ in their word only: their first positions agree.
        assert torch.allclose(conditioned[0, 0], model.word_logits(x[3:4], label[3:4])[0, 0], atol=1e-5)
        assert not torch.allclose(conditioned[0, 0], model.word_logits(x[:1], label[1:2])[0, 0])


def test_label_names_are_checked_against_the_model():
    model = GRU(VOCAB, labels=["en", "fr"], block_size=6)
    assert model.label_ids(["fr", "en"]).tolist() == [1, 0]
    with pytest.raises(UsageError, match=r"--sampling\.label: unknown label 'de'; the model knows en, fr"):
        model.label_ids(["de"])
    with pytest.raises(UsageError, match="trained without labels"):
        GRU(VOCAB, block_size=6).label_ids(["en"])
    with pytest.raises(UsageError, match="distinct"):
        GRU(VOCAB, labels=["en", "en"], block_size=6)


def test_load_model_refuses_a_missing_or_foreign_checkpoint(tmp_path):
    with pytest.raises(UsageError, match="no such checkpoint file"):
        checkpoints.load_model(tmp_path / "missing.ckpt")
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 0.1}}, foreign)
    with pytest.raises(UsageError, match="not a makemore-pl checkpoint"):
        checkpoints.load_model(foreign)


def test_a_checkpoint_alone_gives_its_model_and_its_training_words(tmp_path, tiny_file):
    cli_main(["fit", *tiny_args(tmp_path, tiny_file, "gru", "--trainer.max_epochs", "1")])
    ckpt = next((tmp_path / "logs").rglob("last.ckpt"))
    model = checkpoints.load_model(ckpt)
    assert isinstance(model, GRU) and model.hidden == 8 and not model.training
    data = checkpoints.data_arguments(ckpt)
    assert data["path"] == str(tiny_file)
    expected = set(WordsDataModule(path=str(tiny_file)).split_words()["train"])
    assert checkpoints.training_words(ckpt) == expected and 0 < len(expected) < 41
    tiny_file.unlink()  # the words file gone: the model still loads, and the checkpoint's own copy marks words
    assert checkpoints.training_words(ckpt) == expected
    assert isinstance(checkpoints.load_model(ckpt), GRU)
