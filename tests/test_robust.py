"""Bad input, untrusted checkpoints and downloads: one clear line, exit code 2, nothing written."""

import hashlib
import http.server
import pickle
import threading
from pathlib import Path

import pytest
import torch
from conftest import TINY_WORDS, fit_args
from helpers import BAD_OPTIONS, error_of
from hypothesis import given, settings
from hypothesis import strategies as st

from makemore_pl.cli import cli_main
from makemore_pl.data.files import download
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError


def fit(tmp_path, words, *extra):
    return ["fit", *fit_args(tmp_path, words), "--trainer.max_epochs", "3", *extra]


def test_a_missing_file_names_the_path_and_the_way_out(tmp_path, capsys):
    message = error_of(capsys, fit(tmp_path, tmp_path / "nope.txt"))
    assert "nope.txt" in message and "--data.path" in message and "names.txt" in message
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("content", [b"", b"\n\n  \n\t\n"])
def test_an_empty_file_is_refused(tmp_path, capsys, content):
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    assert "has no words" in error_of(capsys, fit(tmp_path, path))


def test_invalid_bytes_name_the_line_and_the_encoding_option(tmp_path, capsys):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"emma\nolivia\nav\xffa\n")
    message = error_of(capsys, fit(tmp_path, path))
    assert "line 3" in message and "--data.encoding" in message
    assert "makemore-pl: error" not in error_of(capsys, fit(tmp_path, path, "--data.encoding", "nope"))[20:]


def test_too_few_words_for_the_split(tmp_path, capsys):
    path = tmp_path / "two.txt"
    path.write_text("emma\nava\n")
    message = error_of(capsys, fit(tmp_path, path))
    assert "2 words" in message and "--data.val_fraction" in message


@pytest.mark.parametrize(("option", "value", "named"), BAD_OPTIONS)
def test_invalid_options_name_the_option(tmp_path, tiny_file, capsys, option, value, named):
    assert named in error_of(capsys, fit(tmp_path, tiny_file, option, value))


@pytest.mark.parametrize(
    ("option", "value", "line"),
    [
        ("--trainer.max_epochs", "abc", "--trainer.max_epochs: expected int, got 'abc'"),
        ("--data.labelled", "maybe", "--data.labelled: expected bool, got 'maybe'"),
        ("--sampling.top_k", "x", "--sampling.top_k: expected int, got 'x'"),
        ("--model.optimizer.init_args.lr", "fast", "--model.optimizer.lr: expected float, got 'fast'"),
        ("--model.l3", "1", "--model.l3: no such option for makemore_pl.NeuralNGram"),
        ("--trainer.accelerator", "gpux", "--trainer: You selected an invalid accelerator name: `accelerator='gpux'`"),
    ],
)
def test_a_value_the_parser_or_the_trainer_refuses_is_one_line_naming_the_option(
    tmp_path, tiny_file, capsys, option, value, line
):
    # jsonargparse alone would print the whole usage and a tree of every type it tried (cli/parser.py).
    with pytest.raises(SystemExit) as exit_:
        cli_main(fit(tmp_path, tiny_file, option, value))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "usage:" not in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"makemore-pl: error: {line}")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["score", "--words", "emma", "--top_labels", "two"],
            "makemore-pl score: error: --top_labels: expected int, got 'two'",
        ),
        (["serve", "--port", "http"], "makemore-pl serve: error: --port: expected int, got 'http'"),
        (
            ["export", "--format", "onnx", "--opset", "18"],
            "makemore-pl export: error: unrecognized arguments: --opset 18",
        ),
    ],
)
def test_the_other_commands_parse_errors_are_one_line_too(tmp_path, capsys, args, line):
    # Refused while parsing, before the checkpoint is read: any path will do.
    with pytest.raises(SystemExit) as exit_:
        cli_main([args[0], "--ckpt_path", str(tmp_path / "model.ckpt"), *args[1:]])
    assert exit_.value.code == 2 and capsys.readouterr().err.strip() == line


@pytest.mark.parametrize(("option", "value"), [("--sampling.num_samples", "0"), ("--sampling.temperature", "0")])
def test_invalid_sampling_options_name_the_option_when_predict_samples(tmp_path, tiny_file, capsys, option, value):
    assert error_of(capsys, ["predict", *fit_args(tmp_path, tiny_file), option, value]).startswith(
        f"makemore-pl: error: {option} must be"
    )


def test_negative_smoothing_names_the_option(tmp_path, tiny_file, capsys):
    args = ["fit", *fit_args(tmp_path, tiny_file, "configs/counts.yaml"), "--model.smoothing", "-1"]
    assert "--model.smoothing" in error_of(capsys, args)


def test_crlf_spaces_odd_characters_and_no_final_newline_just_work(tmp_path, capsys):
    path = tmp_path / "odd.txt"
    path.write_bytes("  Zoë \r\nd'arcy\r\nmary-jane\r\njr.\r\n🙂emoji\r\nÅsa".encode())
    cli_main(fit(tmp_path, path))
    ckpt = next((tmp_path / "logs").rglob("last.ckpt"))
    vocab = torch.load(ckpt, weights_only=True)["vocab"]
    assert vocab[0] == "\n" and set("Zoë'-.🙂Å") <= set(vocab) and " " not in vocab and "\r" not in vocab


def test_a_checkpoint_of_another_vocabulary_is_refused_by_test(tmp_path, tiny_file, capsys):
    cli_main(fit(tmp_path, tiny_file))
    ckpt = next((tmp_path / "logs").rglob("last.ckpt"))
    other = tmp_path / "other.txt"
    other.write_text("\n".join(w.upper() for w in TINY_WORDS))
    message = error_of(capsys, ["test", *fit_args(tmp_path, other), "--ckpt_path", str(ckpt)])
    assert "another vocabulary" in message and "'abcde" in message and "'ABCDE" in message


def test_a_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoints(tmp_path, tiny_file, capsys):
    cli_main(fit(tmp_path, tiny_file))
    folder = next((tmp_path / "logs").rglob("last.ckpt")).parent
    before = {p.name: p.read_bytes() for p in folder.glob("*.ckpt")}
    assert "last.ckpt" in before and len(before) == 2
    # The same run folder again, with a learning rate that overflows W within a step.
    args = fit(tmp_path, tiny_file, "--model.optimizer.lr", "1e30", "--trainer.logger.init_args.version", "0")
    message = error_of(capsys, [*args, "--trainer.max_epochs", "50"])
    assert "became nan" in message or "became inf" in message, message
    assert "--model.optimizer.init_args.lr" in message
    best = next(name for name in before if name.startswith("best"))
    assert (folder / best).read_bytes() == before[best]
    for path in folder.glob("*.ckpt"):  # whatever the diverging run wrote before it stopped is finite
        assert torch.isfinite(torch.load(path, weights_only=True)["state_dict"]["W"]).all(), path.name


class Payload:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/makemore-pl-payload-ran")


def test_a_checkpoint_carrying_a_pickle_payload_is_refused_and_never_runs(tmp_path, tiny_file, capsys):
    MARKER.unlink(missing_ok=True)
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": Payload()}}, evil)
    message = error_of(capsys, ["test", *fit_args(tmp_path, tiny_file), "--ckpt_path", str(evil)])
    assert "refusing the checkpoint, it holds pickled objects" in message
    assert not MARKER.exists()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(evil, weights_only=True)
    assert not MARKER.exists()


class Server:
    """A real HTTP server on 127.0.0.1 serving ``body``; ``cut`` drops the connection halfway."""

    def __init__(self, body: bytes, cut: bool = False):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if cut else body)
                self.wfile.flush()
                if cut:
                    self.connection.close()

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/names.txt"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


BODY = ("\n".join(TINY_WORDS) + "\n").encode()


def test_download_succeeds_atomically_with_the_right_checksum(tmp_path):
    target = tmp_path / "data" / "names.txt"
    with Server(BODY) as server:
        download(server.url, target, hashlib.sha256(BODY).hexdigest())
    assert target.read_bytes() == BODY
    assert [p.name for p in target.parent.iterdir()] == ["names.txt"]


def test_a_wrong_checksum_leaves_no_file(tmp_path):
    target = tmp_path / "names.txt"
    with Server(BODY) as server, pytest.raises(UsageError, match="SHA-256"):
        download(server.url, target, "0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_a_server_dying_mid_transfer_leaves_no_partial_file(tmp_path):
    target = tmp_path / "names.txt"
    with Server(BODY, cut=True) as server, pytest.raises(UsageError, match="could not download"):
        download(server.url, target, None)
    assert list(tmp_path.iterdir()) == []


def test_no_server_gives_a_clear_error(tmp_path, capsys):
    with Server(BODY) as server:
        url = server.url  # a port that was just free, now closed again
    target = tmp_path / "names.txt"
    args = ["fit", *fit_args(tmp_path, target), "--data.url", url, "--data.sha256", "null"]
    message = error_of(capsys, args)
    assert "could not download" in message and "127.0.0.1" in message
    assert list(tmp_path.iterdir()) == []


words = st.lists(st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(words, st.integers(1, 3))
def test_properties_of_encoding_arbitrary_unicode_words(ws, context):
    ws = [w for w in ws if w == w.strip() and w and "\n" not in "".join(w.splitlines())]
    ws = [w for w in ws if len(w.splitlines()) == 1]
    if not ws:
        return
    vocab = Vocabulary.from_words(ws)
    assert vocab.boundary not in "".join(ws)
    for w in ws:
        assert vocab.decode(vocab.encode(w)) == w
    x, y = vocab.encode_words(ws, context)
    assert len(y) == sum(len(w) + 1 for w in ws) and x.shape == (len(y), context)
    assert int(x.min()) >= 0 and int(x.max()) < len(vocab) and int(y.min()) >= 0 and int(y.max()) < len(vocab)
