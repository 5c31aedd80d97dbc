"""Helpers that several test files share: tiny models, a run's folder, its curves, a command's one-line error."""

import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_WORDS
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from makemore_pl.cli import cli_main
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.models import GRU, LSTM, MLP, RNN, BoW, CountNGram, NeuralNGram, Transformer, WaveNet

VOCAB = [".", "a", "b", "c", "d", "e"]
V = len(VOCAB)

# Each family at a tiny size, with dropout on: evaluation must switch it off.
WINDOW_MODELS = {
    "mlp": lambda: MLP(VOCAB, context=3, embedding=3, hidden=8, dropout=0.5),
    "mlp_bn": lambda: MLP(VOCAB, context=3, embedding=3, hidden=8, batch_norm=True, dropout=0.5),
    "wavenet": lambda: WaveNet(VOCAB, context=4, embedding=3, hidden=8, dropout=0.5),
}
SEQUENCE_MODELS = {
    "bow": lambda: BoW(VOCAB, block_size=7, width=8, hidden=8, dropout=0.5),
    "rnn": lambda: RNN(VOCAB, block_size=7, embedding=4, hidden=8, layers=2, dropout=0.5),
    "gru": lambda: GRU(VOCAB, block_size=7, embedding=4, hidden=8, layers=2, dropout=0.5),
    "lstm": lambda: LSTM(VOCAB, block_size=7, embedding=4, hidden=8, layers=2, dropout=0.5),
    "transformer": lambda: Transformer(VOCAB, block_size=7, width=8, layers=2, heads=2, dropout=0.5),
}


def run_dir(tmp_path: Path, name: str = "bigram") -> Path:
    return max((tmp_path / "logs" / name).glob("version_*"), key=lambda p: int(p.name.split("_")[1]))


def printed_words(capsys) -> list[str]:
    """What predict printed: one word per line, an empty word an empty line."""
    return capsys.readouterr().out.removesuffix("\n").split("\n")


def scalars(run_dir, tag):
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [e.value for e in events.Scalars(tag)]


# Option values a fit refuses, each with what its one error line must say. Every row is refused by a
# plain fit (test_robust.py); the --finetune rows by a fit --init_from too (test_finetune_recipe.py).
BAD_OPTIONS = [
    ("--model.l2", "-0.5", "--model.l2"),
    ("--data.context", "0", "--data.context"),
    ("--data.val_fraction", "-0.1", "--data.val_fraction"),
    ("--data.test_fraction", "0.95", "--data.val_fraction + --data.test_fraction"),
    ("--finetune.shrink", "0", "--finetune.shrink must be in (0, 1] (null: by the list's size), got 0"),
    ("--finetune.shrink", "1.5", "--finetune.shrink must be in (0, 1] (null: by the list's size), got 1.5"),
    ("--finetune.large_list", "0", "--finetune.large_list must be at least 1, got 0"),
    ("--finetune.perturb", "-0.1", "--finetune.perturb must be at least 0, got -0.1"),
    ("--finetune.stay_near", "-1", "--finetune.stay_near must be at least 0, got -1"),
    ("--finetune.patience", "0", "--finetune.patience must be at least 1 (or null), got 0"),
    ("--finetune.new_char_rows", "first", "--finetune.new_char_rows must be mean or base, got first"),
    ("--finetune.new_char_bias", "none", "--finetune.new_char_bias must be frequency or lowest, got none"),
]
BAD_RECIPES = [row for row in BAD_OPTIONS if row[0].startswith("--finetune.")]


def error_of(capsys, args) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli_main(args)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines, "no error message"
    assert lines[-1].startswith("makemore-pl: error: ")
    return lines[-1]


# The families at their smallest, for the decoders, scoring and export.
FAMILY_VOCAB = [".", "a", "b", "c", "d"]


def every_family(labels=None):
    sizes = {"embedding": 4, "hidden": 8}
    return [
        NeuralNGram(FAMILY_VOCAB, labels=labels, context=2),
        CountNGram(FAMILY_VOCAB, labels=labels, context=2),
        MLP(FAMILY_VOCAB, labels=labels, context=3, **sizes),
        MLP(FAMILY_VOCAB, labels=labels, context=3, batch_norm=True, **sizes),
        WaveNet(FAMILY_VOCAB, labels=labels, context=4, **sizes),
        BoW(FAMILY_VOCAB, labels=labels, block_size=6, width=8, hidden=8),
        RNN(FAMILY_VOCAB, labels=labels, block_size=6, **sizes),
        GRU(FAMILY_VOCAB, labels=labels, block_size=6, **sizes),
        LSTM(FAMILY_VOCAB, labels=labels, block_size=6, layers=2, **sizes),
        Transformer(FAMILY_VOCAB, labels=labels, block_size=6, width=8, layers=2, heads=2),
    ]


def randomised(model):
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_()
        for name, buffer in model.named_buffers():
            if name in ("counts", "label_counts"):  # a counting model's, and GRUCounts' per-label trigrams
                buffer.uniform_(0, 5)
    return model.eval()


def label_table_of(model):
    return next(name for name, _ in model.network.named_modules() if name.endswith("labels"))


def label_of(word: str) -> str:
    return "a" if word.endswith("a") else "b"


# The tiny words, labelled by their last letter, and "ava" under both labels.
PAIRS = [(word, label_of(word)) for word in TINY_WORDS] + [("ava", "b")]


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "makemore_pl", *args]


def count_model_val_nll(dm: WordsDataModule) -> float:
    """The closed-form optimum: smoothed bigram counts of the train split, best smoothing on val, in float64."""
    (xt, yt), (xv, yv) = dm.examples["train"], dm.examples["val"]
    counts = torch.zeros(dm.vocab_size, dm.vocab_size, dtype=torch.float64)
    counts.index_put_((xt[:, 0], yt), torch.ones(len(yt), dtype=torch.float64), accumulate=True)

    def val_nll(alpha: float) -> float:
        probs = (counts + alpha) / (counts + alpha).sum(1, keepdim=True)
        return -probs[xv[:, 0], yv].log().mean().item()

    return min(val_nll(a) for a in [0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0])


def words_for(config: Path, tiny_file: Path, tmp_path: Path) -> Path:
    """The tiny words for ``config``: as they are, or labelled (word<TAB>label) where it reads labelled lines."""
    if "labelled: true" not in config.read_text():
        return tiny_file
    words = tmp_path / "tiny.tsv"
    words.write_text("".join(f"{word}\t{label_of(word)}\n" for word in tiny_file.read_text().split()))
    return words
