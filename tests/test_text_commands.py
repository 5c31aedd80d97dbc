"""The user-facing commands on a model of running text: predict continues a prompt, score scores a text file
(issue 22, section 3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from makemore_pl.checkpoints import load_model
from makemore_pl.cli import cli_main
from makemore_pl.continuation import continue_text
from makemore_pl.data.text import TextDataModule
from makemore_pl.errors import UsageError
from makemore_pl.models import NeuralNGram
from makemore_pl.models.counts import CountNGram
from makemore_pl.models.text_decoding import text_decoder
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.text_scoring import score_text_file

QUIET = ["--trainer.enable_progress_bar", "false"]


def predict(ckpt, capsys, *options: str) -> str:
    return predicted(ckpt, capsys, *options).out


def predicted(ckpt, capsys, *options: str):
    cli_main(["predict", "--ckpt_path", str(ckpt), *QUIET, *options])
    return capsys.readouterr()


def test_predict_streams_the_prompts_continuation_and_the_seed_decides_it(text_checkpoint, capsys, tmp_path):
    ckpt, _ = text_checkpoint
    options = ["--sampling.prompt", "ROMEO:", "--sampling.length", "40", "--sampling.top_k", "5"]
    written = predicted(ckpt, capsys, *options, "--sampling.seed", "7")
    first = written.out
    other = predict(ckpt, capsys, *options, "--sampling.seed", "8")
    assert first != other and first.startswith("ROMEO:") and len(first) == len("ROMEO:") + 40 + 1
    # The command writes what the library draws from the checkpoint's weights with that seed, every time.
    drawn = "".join(continue_text(load_model(ckpt), "ROMEO:", 40, top_k=5, seed=7))
    assert first == "ROMEO:" + drawn + "\n"
    saved = written.err.split("saved to ")[-1].strip()
    assert saved.endswith("continuation.txt") and Path(saved).read_text(encoding="utf-8") == first[:-1]
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("JULIET:\n", encoding="utf-8")
    from_file = predict(ckpt, capsys, "--sampling.prompt_file", str(prompt), "--sampling.length", "10")
    assert from_file.startswith("JULIET:\n") and len(from_file) == len("JULIET:\n") + 10 + 1


def test_predict_refuses_word_options_and_a_foreign_prompt_character_in_one_line_each(text_checkpoint, capsys):
    ckpt, _ = text_checkpoint
    with pytest.raises(SystemExit, match="2"):
        predict(ckpt, capsys, "--sampling.suffix", "a", "--sampling.only_new", "true")
    lines = capsys.readouterr().err.strip().splitlines()[-2:]
    assert lines[0].endswith("--sampling.suffix 'a': a model of running text writes no words; this option is for "
                             "word models only")  # fmt: skip
    assert lines[1].startswith("--sampling.only_new True: a model of running text writes no words")
    with pytest.raises(SystemExit, match="2"):
        predict(ckpt, capsys, "--sampling.prompt", "ROMÉO")
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing written before the prompt is refused
    assert "error: --sampling.prompt: character 'É' at position 4 is not in the model's vocabulary" in captured.err


def test_a_word_model_refuses_the_text_options():
    model = NeuralNGram([".", "a", "b"])
    with pytest.raises(UsageError, match=r"^--sampling\.prompt is for models of running text"):
        SamplingOptions(prompt="ab").check(model)
    with pytest.raises(UsageError, match=r"^--sampling\.length is for models of running text"):
        SamplingOptions(length=3).check(model)


def test_score_gives_the_files_nll_and_bits_per_character_and_surprisals_on_request(text_checkpoint, capsys):
    ckpt, text = text_checkpoint
    cli_main(["score", "--ckpt_path", str(ckpt), str(text)])
    summary = capsys.readouterr().out
    score = score_text_file(load_model(ckpt), text)
    assert summary == score.summary(str(text)) + "\n"
    assert f"{score.bits_per_character:.4f} bits/char" in summary
    cli_main(["score", "--ckpt_path", str(ckpt), str(text), "--per_char"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "position\tcharacter\tbits" and len(lines) == 2 + score.characters
    bits = [float(line.split("\t")[2]) for line in lines[2:]]
    assert lines[0].startswith(f"{text}: {score.characters:,} characters predicted")
    assert sum(bits) == pytest.approx(float(lines[0].split("total NLL ")[1].split()[0]) / 0.6931471805599453, 1e-3)
    with pytest.raises(SystemExit, match="2"):
        cli_main(["score", "--ckpt_path", str(ckpt), str(text), "--words", "ab"])
    assert capsys.readouterr().err.strip() == (
        "makemore-pl score: error: --words 'ab': a model of running text scores a text file; this option is for "
        "word models only"
    )


def test_a_count_ngram_continues_text_from_its_rows_alone(tmp_path):
    # configs/text/counts.yaml's 4-gram has 65**3 = 274,625 rows: each character reads one of them, never
    # the whole smoothed table (which made predict take minutes).
    data = TextDataModule(str(_text(tmp_path)), context=3, batch_size=None, cache_dir=str(tmp_path / "cache"))
    model = CountNGram(data.vocab, context=3, text=True)
    model.counts[5, 2] = 4.0
    assert torch.equal(model.row_logits(torch.tensor([5, 9])), model.logits_table()[[5, 9]])
    decoder = text_decoder(model, [1, 2, 3])
    with torch.profiler.profile(record_shapes=True) as profile:
        decoder.logits()
    # Picking rows reads the table (an index, no copy); nothing else touches all of it.
    whole = {event.name for event in profile.events() if [model.num_rows, len(data.vocab)] in event.input_shapes}
    assert whole and whole <= {"aten::index", "aten::as_strided"}, whole


def _text(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_text("".join(chr(c) for c in range(32, 97)) * 20, encoding="utf-8")  # 65 characters
    return path


def test_export_of_a_text_model_matches_torch_in_onnxruntime(text_checkpoint, tmp_path, capsys):
    import onnx
    import onnxruntime as ort

    ckpt, _ = text_checkpoint
    output = tmp_path / "text.onnx"
    cli_main(["export", "--ckpt_path", str(ckpt), "--output", str(output)])
    meta = json.loads({p.key: p.value for p in onnx.load(output).metadata_props}["makemore_pl"])
    model = load_model(ckpt)
    assert meta["text"] is True and meta["vocab"] == model.itos and meta["block_size"] == model.block_size == 16
    session = ort.InferenceSession(str(output))
    tokens = torch.randint(0, model.vocab_size, (3, 16), generator=torch.Generator().manual_seed(0))
    (logits,) = session.run(["logits"], {"tokens": tokens.numpy()})
    with torch.no_grad():
        expected = model.logits(tokens)
    np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4, rtol=0)
