"""Scoring a text against a direct computation: one character at a time, from the context its reading defines."""

import math

import pytest
import torch
from test_text_decoding import TEXT_VOCAB, randomised

from makemore_pl.errors import UsageError
from makemore_pl.models import GRU, MLP, CountNGram, Transformer
from makemore_pl.models.network import SequenceModel
from makemore_pl.sampling.decoders import last_window
from makemore_pl.text_scoring import character_nlls, score_text, score_text_file

TEXT = "this is the west wind,\nsend it north!\n"
BLOCK = 8


def models():
    return [
        Transformer(TEXT_VOCAB, block_size=BLOCK, width=8, layers=2, heads=2),
        GRU(TEXT_VOCAB, block_size=BLOCK, embedding=4, hidden=8),
        MLP(TEXT_VOCAB, context=3, embedding=4, hidden=8, batch_norm=True),
        CountNGram(TEXT_VOCAB, context=2),
    ]


def direct_nlls(model, ids, reading):
    """Each character's NLL, one model call each, on the context ``reading`` gives it."""
    nlls = []
    for i in range(1, len(ids)):
        if isinstance(model, SequenceModel) and reading == "windows":
            context = ids[(i - 1) // model.block_size * model.block_size : i]  # its window's start onwards
        elif isinstance(model, SequenceModel) and model.position_table:
            context = ids[max(0, i - model.block_size) : i]
        elif isinstance(model, SequenceModel):
            context = ids[:i]  # a recurrence, sliding: the whole text
        else:
            context = last_window(torch.tensor([ids[:i]]), model.context)[0].tolist()
        logits = model.next_logits(torch.tensor([context]))[0]
        nlls.append(-logits.double().log_softmax(0)[ids[i]].item())
    return nlls


@pytest.mark.parametrize("reading", ["windows", "sliding"])
@pytest.mark.parametrize("model", models(), ids=lambda m: type(m).__name__)
def test_the_score_is_the_direct_computation(model, reading):
    model = randomised(model, torch.float64)
    ids = [TEXT_VOCAB.index(c) for c in TEXT]
    expected = direct_nlls(model, ids, reading)
    score = score_text(model, TEXT, reading=reading, surprisals=True)
    assert score.characters == len(TEXT) - 1 == len(score.surprisals)
    assert score.total_nll == pytest.approx(sum(expected), rel=1e-9)
    assert score.bits_per_character == pytest.approx(sum(expected) / (len(TEXT) - 1) / math.log(2), rel=1e-9)
    assert score.surprisals == pytest.approx([nll / math.log(2) for nll in expected], rel=1e-9)


def test_a_windows_score_batches_windows_without_changing_it():
    model = randomised(Transformer(TEXT_VOCAB, block_size=4, width=8, layers=1, heads=2), torch.float64)
    text = TEXT * 3  # many windows, and a short one at the end
    ids = [TEXT_VOCAB.index(c) for c in text]
    torch.testing.assert_close(character_nlls(model, ids, batch=1), character_nlls(model, ids, batch=100))


def test_a_file_is_scored_and_bad_input_is_one_line(tmp_path):
    model = models()[0].eval()
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    assert score_text_file(model, path).total_nll == pytest.approx(score_text(model, TEXT).total_nll)
    assert score_text_file(model, path).surprisals is None
    path.write_text("this is\nthe Wind")
    with pytest.raises(UsageError, match=r"text\.txt: character 'W' at line 2, column 5 is not in"):
        score_text_file(model, path)
    path.write_bytes(b"the \xff wind")
    with pytest.raises(UsageError, match=r"text\.txt: cannot read it as utf-8 text"):
        score_text_file(model, path)
    path.write_text("a")
    with pytest.raises(UsageError, match="1 characters; scoring needs at least 2"):
        score_text_file(model, path)
    with pytest.raises(UsageError, match="--reading must be windows or sliding"):
        score_text(model, TEXT, reading="random")


def test_a_score_reads_as_one_line_and_its_surprisals_as_a_table():
    model = randomised(models()[1], torch.float64)
    text = "a b\nw"
    score = score_text(model, text, surprisals=True)
    assert score.summary("in.txt") == (
        f"in.txt: 4 characters predicted, total NLL {score.total_nll:.4f} nats, "
        f"{score.total_nll / 4:.4f} nats/char, {score.total_nll / 4 / math.log(2):.4f} bits/char"
    )
    lines = score.surprisal_table(text).splitlines()
    assert lines[0] == "position\tcharacter\tbits"
    assert [line.split("\t")[:2] for line in lines[1:]] == [["1", " "], ["2", "b"], ["3", "\\n"], ["4", "w"]]
    assert [float(line.split("\t")[2]) for line in lines[1:]] == pytest.approx(score.surprisals, abs=1e-4)
    with pytest.raises(ValueError, match="without surprisals"):
        score_text(model, text).surprisal_table(text)
