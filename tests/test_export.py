"""ONNX export: onnxruntime's logits against torch's for every family, the command, and sampling without torch."""

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from conftest import REPO
from helpers import FAMILY_VOCAB, every_family, randomised

from makemore_pl import checkpoints
from makemore_pl.cli import cli_main
from makemore_pl.export.onnx import to_onnx
from makemore_pl.models import GRUCounts

LABELS = ["x", "y", "z"]
# Labelled: one of each way the label goes in (an n-gram's table, a window, a recurrence, attention).
LABELLED = [m for m in every_family(LABELS) if type(m).__name__ in ("CountNGram", "WaveNet", "RNN", "Transformer")]
# configs/labelled.yaml's model: the GRU and the counts mixed in the graph, at a weight the file keeps.
LABELLED += [GRUCounts(FAMILY_VOCAB, labels=LABELS, block_size=6, embedding=4, hidden=8, count_weight=0.3)]
SIZES = [(1, 1), (2, 3), (5, 6)]  # (batch, length): the length is the context for a window or n-gram


@pytest.mark.parametrize(
    "model", every_family() + LABELLED, ids=lambda m: type(m).__name__ + ("+label" if m.num_labels else "")
)
def test_onnxruntime_gives_torchs_logits_at_every_batch_and_length(model):
    model = randomised(model)
    exported = to_onnx(model)
    session = ort.InferenceSession(exported)
    sequence = model.layout == "words"
    assert [i.name for i in session.get_inputs()] == ["tokens", "label"][: 1 + bool(model.num_labels)]
    # Dynamic: named dimensions, not sizes frozen at the example's (a window's context is fixed).
    assert session.get_inputs()[0].shape == (["batch", "length"] if sequence else ["batch", model.context])
    generator = torch.Generator().manual_seed(1)
    for batch, length in SIZES:
        tokens = torch.randint(0, model.vocab_size, (batch, length if sequence else model.context), generator=generator)
        label = torch.randint(0, 3, (batch,), generator=generator) if model.num_labels else None
        feed = {"tokens": tokens.numpy()} | ({"label": label.numpy()} if label is not None else {})
        (logits,) = session.run(["logits"], feed)
        with torch.no_grad():
            expected = model.logits(tokens, label)
        assert logits.shape == (batch, length, model.vocab_size) if sequence else (batch, model.vocab_size)
        np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4, rtol=0)
    meta = json.loads({p.key: p.value for p in onnx.load_from_string(exported).metadata_props}["makemore_pl"])
    assert meta["vocab"] == model.itos and meta["labels"] == model.labels
    assert meta["input"] == ("sequence" if sequence else "window")
    assert meta["block_size" if sequence else "context"] == (model.block_size if sequence else model.context)


def test_the_gru_is_exported_with_pytorchs_gate_order_linear_before_reset():
    # microsoft/onnxscript#2852: the ONNX GRU's default (linear_before_reset=0) is another equation
    # than nn.GRU's; the numbers above would show it, and the attribute says why.
    gru = randomised(every_family()[7])
    graph = onnx.load_from_string(to_onnx(gru)).graph
    (node,) = [node for node in graph.node if node.op_type == "GRU"]
    assert {a.name: a.i for a in node.attribute}["linear_before_reset"] == 1


def run_example(*args):
    """examples/onnx_sample.py in a fresh interpreter, with Python's list of every module it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(REPO / "examples" / "onnx_sample.py"), *args],
        capture_output=True,
        text=True,
    )
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return done, imported


def test_an_exported_checkpoint_samples_names_with_onnxruntime_and_no_torch(family_checkpoints, tmp_path, capsys):
    ckpt = family_checkpoints[0]["gru"]
    output = tmp_path / "gru.onnx"
    cli_main(["export", "--ckpt_path", str(ckpt), "--format", "onnx", "--output", str(output)])
    assert capsys.readouterr().out == f"makemore-pl export: wrote {output}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["gru.onnx"]  # written atomically: no temporary left
    done, imported = run_example(str(output), "--num", "6", "--seed", "3", "--temperature", "0.8")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "onnxruntime" in imported and "numpy" in imported
    assert not any(name == "torch" or name.startswith("torch.") for name in imported)
    words = done.stdout.splitlines()
    vocab = set(checkpoints.load_model(ckpt).itos[1:])
    assert len(words) == 6 and all(set(word) <= vocab for word in words)
    assert run_example(str(output), "--num", "6", "--seed", "3", "--temperature", "0.8")[0].stdout == done.stdout


def test_a_labelled_export_samples_the_label_asked_for(tmp_path):
    model = randomised(LABELLED[0])  # the count table: the quickest to export
    path = tmp_path / "labelled.onnx"
    path.write_bytes(to_onnx(model))
    done, _ = run_example(str(path), "--num", "4", "--label", "z", "--seed", "1")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 4, done.stderr[-2000:]
    refused, _ = run_example(str(path), "--label", "w")
    assert refused.returncode != 0 and "--label 'w': the model knows ['x', 'y', 'z']" in refused.stderr


def test_bad_export_requests_are_one_line_and_write_nothing(tmp_path, capsys):
    output = tmp_path / "model.onnx"
    for args, message in (
        (["--ckpt_path", str(tmp_path / "missing.ckpt")], "no such checkpoint file"),
        (["--ckpt_path", "x.ckpt", "--format", "tflite"], "--format 'tflite': the only format is onnx"),
    ):
        with pytest.raises(SystemExit) as stopped:
            cli_main(["export", *args, "--output", str(output)])
        err = capsys.readouterr().err
        assert stopped.value.code == 2 and err.count("\n") == 1 and message in err
    assert not output.exists()


def test_the_example_keeps_the_prefix_and_draws_among_the_top_k_of_onnxruntimes_logits(tmp_path):
    model = randomised(every_family()[7])  # a GRU, block_size 6: words of at most 5 characters
    path = tmp_path / "gru.onnx"
    path.write_bytes(to_onnx(model))
    session = ort.InferenceSession(str(path))

    def ranks(word: str) -> list[int]:
        """Each character's rank (0: likeliest) among onnxruntime's logits after the word so far, the end included."""
        ids = [0, *(model.itos.index(c) for c in word)]
        ends = [0] if len(word) < model.block_size - 1 else []  # a word of the longest length ends there unasked
        found = []
        for t, nxt in enumerate([*ids[1:], *ends], start=1):
            (logits,) = session.run(["logits"], {"tokens": np.array([ids[:t]], dtype=np.int64)})
            found.append(int((logits[0, -1] > logits[0, -1, nxt]).sum()))
        return found

    done, _ = run_example(str(path), "--num", "12", "--seed", "4", "--prefix", "ab", "--top_k", "2")
    words = done.stdout.splitlines()
    assert done.returncode == 0 and len(words) == 12, done.stderr[-2000:]
    assert all(word.startswith("ab") for word in words)
    assert all(max(ranks(word)[2:]) < 2 for word in words)  # past the prefix, only the 2 likeliest
    assert any(max(ranks(word)[2:]) == 1 for word in words)  # and not only the likeliest
    greedy, _ = run_example(str(path), "--num", "3", "--prefix", "b", "--top_k", "1")
    (word,) = set(greedy.stdout.splitlines())
    assert word.startswith("b") and max(ranks(word)[1:]) == 0
    refused, _ = run_example(str(path), "--prefix", "aQ")
    assert refused.returncode != 0 and "--prefix 'aQ': 'Q' is not in the model's vocabulary" in refused.stderr
