"""Continuing a prompt: streamed, seeded, top-k and temperature honoured, bad input in one line."""

import pytest
import torch
from test_text_decoding import TEXT_VOCAB, randomised

from makemore_pl.continuation import (
    check_text_options,
    continue_text,
    encode_text,
    read_prompt,
    word_option_errors,
    write_continuation,
)
from makemore_pl.errors import UsageError
from makemore_pl.models import GRU, Transformer
from makemore_pl.models.text_decoding import Cropped


@pytest.fixture(scope="module")
def transformer():
    torch.manual_seed(0)
    return Transformer(TEXT_VOCAB, block_size=8, width=16, layers=2, heads=2)


def test_the_same_seed_gives_the_same_text_and_another_seed_another(transformer):
    first = "".join(continue_text(transformer, "hello", 24, seed=3))
    assert len(first) == 24 and set(first) <= set(TEXT_VOCAB)
    assert "".join(continue_text(transformer, "hello", 24, seed=3)) == first
    assert "".join(continue_text(transformer, "hello", 24, seed=4)) != first


def test_characters_stream_one_at_a_time_and_the_model_is_left_as_it_was(transformer):
    transformer.train()
    stream = continue_text(transformer, "wind", 30)
    assert isinstance(next(stream), str)  # one character drawn, before the others are asked for
    assert not transformer.training  # eval while it writes: no dropout in the text
    stream.close()
    assert transformer.training


def test_top_k_one_is_greedy_past_the_context():
    model = randomised(GRU(TEXT_VOCAB, block_size=4, embedding=4, hidden=8), torch.float64)
    text = "".join(continue_text(model, "the", 20, top_k=1, temperature=0.7))
    reference = Cropped(model, encode_text(TEXT_VOCAB, "the", "prompt"))
    for char in text:  # each character the most likely after the whole text so far
        assert TEXT_VOCAB[int(reference.logits().argmax())] == char
        reference.feed(TEXT_VOCAB.index(char))


def test_top_k_draws_only_among_the_k_most_likely(transformer):
    # With k = 2 at a high temperature, every drawn character is one of the two most likely there.
    text = "".join(continue_text(transformer, "a", 30, top_k=2, temperature=5.0, seed=7))
    reference = Cropped(transformer, [TEXT_VOCAB.index("a")])
    with torch.no_grad():
        for char in text:
            assert TEXT_VOCAB.index(char) in reference.logits().topk(2).indices.tolist()
            reference.feed(TEXT_VOCAB.index(char))
    assert len(set(text)) > 1  # not merely greedy


def test_a_prompt_character_outside_the_vocabulary_is_one_line_naming_it_and_its_position(transformer):
    with pytest.raises(UsageError) as error:
        next(continue_text(transformer, "hello Wor", 5))
    assert str(error.value) == (
        "--sampling.prompt: character 'W' at position 7 is not in the model's vocabulary '\\n !,abcdehilnorstw'"
    )


def test_a_file_character_outside_the_vocabulary_is_named_by_line_and_column():
    with pytest.raises(UsageError, match=r"^in\.txt: character 'Z' at line 2, column 3 is not in"):
        encode_text(TEXT_VOCAB, "hello\nabZ", "in.txt", by_line=True)


@pytest.mark.parametrize(("option", "value"), [("length", -1), ("temperature", 0.0), ("top_k", 0)])
def test_bad_numbers_are_one_line_naming_the_option(transformer, option, value):
    arguments = {"length": 5, option: value}
    with pytest.raises(UsageError, match=rf"^--sampling\.{option} must be"):
        next(continue_text(transformer, "a", **arguments))


def test_each_word_option_on_a_text_model_gets_a_line_of_its_own():
    options = {"suffix": "ab", "only_new": True, "beam": 3, "prefix": "", "temperature": 0.8, "min_length": 0}
    lines = word_option_errors(options)
    assert [line.split(" ")[0] for line in lines] == ["--sampling.suffix", "--sampling.only_new", "--sampling.beam"]
    with pytest.raises(UsageError) as error:
        check_text_options(options)
    assert str(error.value).splitlines() == lines
    check_text_options({"prefix": "", "beam": None, "temperature": 2.0})  # defaults and text options pass


@pytest.mark.gpu
def test_the_same_seed_gives_the_same_text_on_a_gpu():
    torch.manual_seed(0)
    model = Transformer(TEXT_VOCAB, block_size=8, width=16, layers=2, heads=2).double()
    on_cpu = "".join(continue_text(model, "hello", 50, seed=5))
    assert "".join(continue_text(model.to("cuda"), "hello", 50, seed=5)) == on_cpu


def test_a_continuation_is_written_as_drawn_after_its_prompt(transformer, tmp_path):
    path = tmp_path / "out.txt"
    with path.open("w") as out:
        text = write_continuation(transformer, "the wind", 12, out, seed=3)
    assert path.read_text() == text == "the wind" + "".join(continue_text(transformer, "the wind", 12, seed=3))
    with path.open("w") as out, pytest.raises(UsageError, match="'W' at position 5"):
        write_continuation(transformer, "the Wind", 12, out)
    assert path.read_text() == ""  # nothing written before the prompt was checked


def test_a_prompt_comes_from_the_option_or_a_file_not_both(transformer, tmp_path):
    assert read_prompt("ROMEO:") == ("ROMEO:", "--sampling.prompt")
    path = tmp_path / "prompt.txt"
    path.write_text("ROMEO:\nwhat")
    assert read_prompt(prompt_file=path) == ("ROMEO:\nwhat", str(path))
    with pytest.raises(UsageError, match=r"^--sampling\.prompt and --sampling\.prompt_file: give one"):
        read_prompt("x", path)
    path.write_text("hello\nWhat")
    with pytest.raises(UsageError, match=r"prompt\.txt: character 'W' at line 2, column 1 is not"):
        prompt, source = read_prompt(prompt_file=path)
        next(continue_text(transformer, prompt, 5, source=source))
    path.write_bytes(b"\xff")
    with pytest.raises(UsageError, match=r"^--sampling.prompt_file .*prompt\.txt: cannot read it as utf-8 text"):
        read_prompt(prompt_file=path)
    with pytest.raises(UsageError, match="cannot read it"):
        read_prompt(prompt_file=tmp_path / "missing.txt")
