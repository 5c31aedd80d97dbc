from collections import Counter

import lightning as L
import pytest
import torch
from conftest import fit_args

from makemore_pl.cli.tune import tune
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.models.counts import CountNGram
from makemore_pl.models.neural import NeuralNGram


def quiet_trainer(**kwargs) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kwargs,
    )


def fitted_counts(path, context, smoothing=1.0, epochs=1, batch_size=None):
    dm = WordsDataModule(path=str(path), context=context, val_fraction=0, test_fraction=0, batch_size=batch_size)
    model = CountNGram(dm.vocab, context=context, smoothing=smoothing)
    quiet_trainer(max_epochs=epochs).fit(model, datamodule=dm)
    return dm, model


def hand_count(words, context):
    counts = Counter()
    for word in words:
        chars = ["."] * context + list(word) + ["."]
        for i in range(context, len(chars)):
            counts[(tuple(chars[i - context : i]), chars[i])] += 1
    return counts


@pytest.mark.parametrize("context", [1, 2])
@pytest.mark.parametrize("batch_size", [None, 3])
def test_counts_equal_a_hand_count(tmp_path, context, batch_size):
    words = ["emma", "ava", "ab", "bob", "mama"]
    path = tmp_path / "w.txt"
    path.write_text("\n".join(words))
    # Two epochs: the second counts afresh instead of doubling the table.
    dm, model = fitted_counts(path, context, epochs=2, batch_size=batch_size)
    itos = dm.vocab
    table = {}
    for row in range(model.num_rows):
        ctx = tuple(itos[(row // len(itos) ** (context - 1 - j)) % len(itos)] for j in range(context))
        for col in range(len(itos)):
            if model.counts[row, col]:
                table[(ctx, itos[col])] = int(model.counts[row, col])
    assert table == hand_count(words, context)


def test_smoothing_obeys_its_definition(tiny_file):
    for smoothing in [0.0, 0.5, 1.0]:
        _, model = fitted_counts(tiny_file, 1, smoothing)
        probs = model.logits_table().exp()
        torch.testing.assert_close(probs.sum(1), torch.ones(model.num_rows, dtype=torch.float64))
        expected = (model.counts + smoothing) / (model.counts + smoothing).sum(1, keepdim=True)
        seen = model.counts.sum(1) > 0
        torch.testing.assert_close(probs[seen], expected[seen])
        assert not model.logits_table()[model.counts > 0].isnan().any()


def test_a_checkpoint_round_trips_the_counts(tiny_file, tmp_path):
    _, model = fitted_counts(tiny_file, 2)
    trainer = quiet_trainer(max_epochs=1)
    trainer.strategy.connect(model)
    path = tmp_path / "counts.ckpt"
    trainer.save_checkpoint(path)
    restored = CountNGram.load_from_checkpoint(path, weights_only=True)
    assert restored.counts.sum() > 0
    torch.testing.assert_close(restored.counts, model.counts)
    assert restored.itos == model.itos and restored.context == 2


def test_neural_trigram_converges_to_the_counting_trigram(tiny_file):
    dm, counts = fitted_counts(tiny_file, 2, smoothing=0.0)
    optimum = counts.trainer.callback_metrics["train/nll"].item()
    neural = NeuralNGram(dm.vocab, context=2, l2=0.0)
    quiet_trainer(max_epochs=400).fit(neural, datamodule=dm)
    reached = neural.trainer.callback_metrics["train/nll"].item()
    assert optimum <= reached + 1e-6 and reached - optimum < 1e-3, (reached, optimum)


def test_tune_runs_end_to_end_and_writes_its_table(tmp_path, tiny_file, capsys):
    table = tune(
        [
            *fit_args(tmp_path, tiny_file, "configs/counts.yaml"),
            "--tune.option", "smoothing",
            "--tune.values", "[0, 1, 10]",
        ]
    )  # fmt: skip
    rows = table.strip().splitlines()[2:]
    assert [row.split("|")[1].strip().strip("*") for row in rows] == ["0", "1", "10"]
    assert rows[0].split("|")[3].strip() == "inf"  # unsmoothed counts never saw some validation bigrams
    best = [row for row in rows if "**" in row]
    assert len(best) == 1 and best[0].split("|")[4].strip()  # the best, and only it, has a test NLL
    saved = (tmp_path / "logs" / "counts" / "tune_smoothing.md").read_text()
    assert saved == table
