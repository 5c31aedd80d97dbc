"""Labelled words: the two input layouts, the split, every family conditioned, the metrics, bad input."""

import math
import subprocess
import sys

import pytest
import torch
from conftest import REPO, SERIES, tiny_args
from helpers import PAIRS, error_of, run_dir

from makemore_pl import checkpoints
from makemore_pl.cli import MakemoreCLI, cli_main, run_cli
from makemore_pl.data.batches import EvalBatches, FullBatch, MiniBatches, WordBatches
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.models import CountNGram, NeuralNGram


@pytest.fixture
def labelled_file(tmp_path):
    path = tmp_path / "labelled.tsv"
    path.write_text("".join(f"{word}\t{label}\n" for word, label in PAIRS))
    return path


def labelled_args(tmp_path, path, name, *extra):
    return tiny_args(tmp_path, path, name, "--data.labelled", "true", *extra)


def fit(tmp_path, path, name, *extra):
    cli = run_cli(MakemoreCLI, ["fit", *labelled_args(tmp_path, path, name, "--trainer.max_epochs", "1", *extra)])
    return cli, run_dir(tmp_path, name) / "checkpoints" / "last.ckpt"


def test_a_folder_of_label_files_reads_as_the_same_labelled_words(tmp_path, labelled_file):
    folder = tmp_path / "names"
    folder.mkdir()
    for label in ("a", "b"):
        (folder / f"{label}.txt").write_text("".join(f"{w}\n" for w, other in PAIRS if other == label))
    (folder / ".DS_Store").write_bytes(b"\0\1")  # hidden: not the user's words
    from_file, from_folder = WordsDataModule(str(labelled_file), labelled=True), WordsDataModule(str(folder))
    assert from_file.labels == from_folder.labels == ["a", "b"]
    assert sorted(from_file.pairs) == sorted(from_folder.pairs) == sorted(PAIRS)
    assert from_file.split_pairs() == from_file.split_pairs()  # seeded
    assert {k: sorted(v) for k, v in from_file.split_pairs().items()} == {
        k: sorted(v) for k, v in from_folder.split_pairs().items()
    }


def test_an_unlabelled_file_reads_as_plain_words_a_tab_inside_a_word_included(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("ab\tc\nde\n")
    data = WordsDataModule(str(path))
    assert data.words == ["ab\tc", "de"] and data.labels is None and data.pairs is None
    assert "\t" in data.vocab


def test_the_split_is_by_word_with_every_label_in_every_split(labelled_file):
    data = WordsDataModule(str(labelled_file), labelled=True)
    splits = data.split_pairs()
    assert sorted(pair for pairs in splits.values() for pair in pairs) == sorted(PAIRS)
    for split, pairs in splits.items():
        assert {label for _, label in pairs} == {"a", "b"}, split
    # A word under two labels goes to one split, with both of them.
    (home,) = [split for split, pairs in splits.items() if ("ava", "a") in pairs]
    assert ("ava", "b") in splits[home]
    words = {split: {word for word, _ in pairs} for split, pairs in splits.items()}
    assert not (words["train"] & words["val"] or words["train"] & words["test"] or words["val"] & words["test"])
    data.setup()
    assert data.train_label_counts.tolist() == [sum(lab == wanted for _, lab in splits["train"]) for wanted in "ab"]


def test_known_labels_join_the_files_with_no_words_and_no_split_to_fill(tmp_path, labelled_file):
    # What --init_from sets: a label only the checkpoint knows joins the sorted labels, with no words.
    data = WordsDataModule(str(labelled_file), labelled=True, known_labels=["b", "0", "c"])
    assert data.labels == ["0", "a", "b", "c"]
    splits = data.split_pairs()  # "0" and "c" have no words to be in the splits, and need none
    assert {label for pairs in splits.values() for _, label in pairs} == {"a", "b"}
    data.setup()
    counts = data.train_label_counts
    assert counts[[0, 3]].tolist() == [0, 0] and counts[[1, 2]].min() > 0
    plain = tmp_path / "plain.txt"
    plain.write_text("emma\nava\n")
    assert WordsDataModule(str(plain), known_labels=["a"]).labels is None  # unlabelled words stay unlabelled


def test_a_label_too_small_for_the_split_is_refused_naming_it_and_its_count(tmp_path, labelled_file, capsys):
    labelled_file.write_text(labelled_file.read_text() + "zed\tz\nzoro\tz\n")
    with pytest.raises(UsageError, match="label 'z' has 2 words, too few to be in the train, val and test"):
        WordsDataModule(str(labelled_file), labelled=True).split_pairs()
    assert "label 'z' has 2 words" in error_of(capsys, ["fit", *labelled_args(tmp_path, labelled_file, "bigram")])
    # Without validation and test words, two words are enough.
    data = WordsDataModule(str(labelled_file), labelled=True, val_fraction=0, test_fraction=0)
    assert {label for _, label in data.split_pairs()["train"]} == {"a", "b", "z"}


@pytest.mark.parametrize(
    "content, message",
    [
        ("emma\ta\nolivia\n", r"labelled.tsv, line 2: no TAB"),
        ("emma\ta\n\tb\n", r"labelled.tsv, line 2: an empty word"),
        ("emma\ta\n\nava\t \n", r"labelled.tsv, line 3: an empty label"),
    ],
)
def test_a_bad_labelled_line_is_refused_naming_file_and_line(tmp_path, capsys, content, message):
    path = tmp_path / "labelled.tsv"
    path.write_text(content)
    assert message in error_of(capsys, ["fit", *labelled_args(tmp_path, path, "bigram")])
    assert not list(tmp_path.rglob("*.ckpt"))


def test_a_bad_folder_is_refused_in_one_line(tmp_path, capsys):
    folder = tmp_path / "names"
    folder.mkdir()
    args = ["fit", *tiny_args(tmp_path, folder, "bigram")]
    assert "an empty folder" in error_of(capsys, args)
    (folder / "en.txt").write_text("emma\nava\n")
    (folder / "notes.md").write_text("not words\n")
    assert "notes.md is not a <label>.txt words file" in error_of(capsys, args)
    (folder / "notes.md").unlink()
    (folder / "fr.txt").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    assert "fr.txt: not a text file" in error_of(capsys, args)
    assert "--data.labelled true is for a file" in error_of(capsys, [*args, "--data.labelled", "true"])


def test_labelled_batches_carry_each_rows_label_and_counted_ones_count_it(labelled_file):
    data = WordsDataModule(str(labelled_file), labelled=True)
    data.setup()
    x, y = data.examples["train"]
    label = data.example_labels["train"]
    (cx, cy, count, total, labels) = next(iter(FullBatch(x, y, label=label)))
    # Counted by (label, context, next): the same bigram under two labels is two rows.
    seen = {(int(lab), *map(int, c), int(n)): int(k) for lab, c, n, k in zip(labels.ids, cx, cy, count)}
    expected = {}
    for lab, c, n in zip(label.tolist(), x.tolist(), y.tolist()):
        expected[(lab, *c, n)] = expected.get((lab, *c, n), 0) + 1
    assert seen == expected and total == len(y)
    minis = list(MiniBatches(x, y, 16, seed=1, epoch=lambda: 0, label=label))  # counted, on the CPU
    assert sum(int(b.count.sum()) for b in minis) == len(y) and all(len(b.labels.ids) == len(b.y) for b in minis)
    for batch in MiniBatches(x, y, 16, seed=1, epoch=lambda: 0, count=False, label=label):
        assert len(batch.labels.ids) == len(batch.y)
    words, wy = Vocabulary(data.vocab).encode_padded(data.splits["train"], data.block_size)
    rows = torch.arange(len(words))  # as labels: each batch row must carry its own row's id
    for bx, by, _, _, labels in WordBatches(words, wy, 5, seed=1, epoch=lambda: 0, label=rows):
        assert torch.equal(bx, words[labels.ids, : bx.shape[1]]) and torch.equal(by, wy[labels.ids, : bx.shape[1]])
    # Evaluation: every chunk knows each label's predictions in the whole split.
    for batch in EvalBatches(x, y, 7, label=label, num_labels=2, counted=True):
        assert batch.labels.totals.tolist() == [int((label == i).sum()) for i in range(2)]


def test_a_labelled_count_table_backs_off_to_the_pooled_row():
    model = CountNGram([".", "a", "b"], labels=["x", "y"], smoothing=1.0)
    assert model.backoff == 3.0  # smoothing * vocab_size
    model.label_counts[0, 1] = torch.tensor([2.0, 0.0, 4.0])  # label x after "a"; label y never saw "a"
    model.counts[1] = model.label_counts[:, 1].sum(0)
    x = torch.tensor([[1]])
    pooled = model.logits(x)
    assert torch.allclose(model.logits(x, torch.tensor([1])), pooled)  # no counts: the pooled row
    p = torch.tensor([3.0, 1.0, 5.0]) / 9  # (N + 1) / (N + 1).sum
    own = (torch.tensor([2.0, 0.0, 4.0]) + 3.0 * p) / (6 + 3.0)
    assert torch.allclose(model.logits(x, torch.tensor([0])).exp(), own[None], atol=1e-6)


def test_a_labelled_neural_ngram_starts_as_the_unlabelled_one_and_adds_its_label_table():
    vocab = [".", "a", "b"]
    plain, labelled = NeuralNGram(vocab, context=2), NeuralNGram(vocab, labels=["x", "y"], context=2)
    x, label = torch.tensor([[0, 1], [1, 2]]), torch.tensor([1, 0])
    assert torch.equal(plain.W, labelled.W) and torch.equal(labelled.logits(x, label), plain.logits(x))
    with torch.no_grad():
        labelled.D.normal_()
    rows = x[:, 0] * 3 + x[:, 1]
    assert torch.equal(labelled.logits(x, label), labelled.W[rows] + labelled.D[label, rows])


FAMILIES = ["bigram", "counts", *SERIES]


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_fits_conditioned_and_reports_nll_per_label_and_accuracy(tmp_path, labelled_file, name):
    cli, ckpt = fit(tmp_path, labelled_file, name, "--trainer.max_epochs", "1")
    model = cli.model
    assert model.labels == ["a", "b"] and {"val/nll/a", "val/nll/b"} <= set(cli.trainer.callback_metrics)
    results = cli.trainer.test(model, datamodule=cli.datamodule, verbose=False)[0]
    data = cli.datamodule
    # nll is the mean over all predicted characters, each under its own label: the per-label means
    # weighted by their characters.
    totals = {lab: sum(len(w) + 1 for w, lb in zip(data.splits["test"], data.split_labels["test"]) if lb == i)
              for i, lab in enumerate("ab")}  # fmt: skip
    pooled = sum(results[f"test/nll/{lab}"] * n for lab, n in totals.items()) / sum(totals.values())
    assert results["test/nll"] == pytest.approx(pooled, rel=1e-5)
    assert 0 <= results["test/accuracy"] <= 1
    # The checkpoint keeps the labels and the training split's prior, as plain values.
    saved = torch.load(ckpt, weights_only=True)
    assert saved["labels"] == ["a", "b"] and saved["hyper_parameters"]["labels"] == ["a", "b"]
    counts = data.train_label_counts
    assert torch.allclose(saved["state_dict"]["label_prior"], (counts / counts.sum()).float())
    # The label is read: a labelled model's two labels give two distributions.
    x, _ = Vocabulary(model.vocabulary.itos).encode_padded(["emma"], 5)
    with model.evaluating():
        logits = model.word_logits(x.repeat(2, 1), torch.tensor([0, 1]))
    assert not torch.allclose(logits[0], logits[1])


def test_accuracy_is_bayes_rule_over_the_labels_with_the_training_prior(tmp_path, labelled_file):
    cli, _ = fit(tmp_path, labelled_file, "counts")
    model, data = cli.model, cli.datamodule
    accuracy = cli.trainer.test(model, datamodule=data, verbose=False)[0]["test/accuracy"]
    # By hand, from the count tables: P_l = (N_l + a P) / (N_l.sum + a), P = (N + 1) / (N + 1).sum.
    stoi, a = {c: i for i, c in enumerate(model.itos)}, model.backoff
    n, n_l = model.counts, model.label_counts
    train_labels = data.split_labels["train"].tolist()
    prior = [train_labels.count(i) / len(train_labels) for i in range(2)]

    def log_p(word, label):
        total, ids = 0.0, [0, *(stoi[c] for c in word), 0]
        for prev, nxt in zip(ids, ids[1:]):
            pooled = (n[prev, nxt] + 1) / (n[prev].sum() + len(stoi))
            total += math.log((n_l[label, prev, nxt] + a * pooled) / (n_l[label, prev].sum() + a))
        return total + math.log(prior[label])

    truth = {}
    for word, label in zip(data.splits["test"], data.split_labels["test"].tolist()):
        truth.setdefault(word, set()).add(label)
    # A word with several labels is right when the argmax is any of them.
    right = [max(range(2), key=lambda label: log_p(word, label)) in labels for word, labels in truth.items()]
    assert accuracy == pytest.approx(sum(right) / len(truth), abs=1e-6)


def test_per_label_metrics_are_exact_however_the_split_is_chunked(tmp_path, labelled_file):
    cli, ckpt = fit(tmp_path, labelled_file, "mlp")
    whole = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    chunked = run_cli(
        MakemoreCLI, ["test", *labelled_args(tmp_path, labelled_file, "mlp"), "--ckpt_path", str(ckpt),
                      "--data.eval_batch_size", "3"]
    )  # fmt: skip
    for key, value in whole.items():
        assert chunked.trainer.callback_metrics[key].item() == pytest.approx(value, rel=1e-5), key


def test_a_checkpoint_meets_other_labels_in_one_line_and_predicts_alone(tmp_path, labelled_file, capsys):
    _, ckpt = fit(tmp_path, labelled_file, "gru")
    other = tmp_path / "other.tsv"
    other.write_text(labelled_file.read_text().replace("\tb\n", "\tc\n"))
    args = ["test", *labelled_args(tmp_path, other, "gru"), "--ckpt_path", str(ckpt)]
    assert "trained on other labels than the data given now: checkpoint labels a, b; data labels a, c" in error_of(
        capsys, args
    )
    plain = tmp_path / "plain.txt"  # the same words, and so the same vocabulary, without their labels
    plain.write_text("".join(f"{word}\n" for word, _ in PAIRS))
    unlabelled = ["test", *tiny_args(tmp_path, plain, "gru"), "--ckpt_path", str(ckpt), "--data.labelled", "false"]
    assert "checkpoint labels a, b; data no labels" in error_of(capsys, unlabelled)
    labelled_file.unlink()  # the words file gone: the checkpoint knows the labels
    run_cli(MakemoreCLI, ["predict", "--ckpt_path", str(ckpt), "--sampling.num_samples", "3"])
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert checkpoints.load_model(ckpt).labels == ["a", "b"]
    # score --label: p(word | label), each label's own figures; the posterior stays the word's.
    model = checkpoints.load_model(ckpt)
    scored = {}
    for label in (None, "a", "b"):
        cli_main(["score", "--ckpt_path", str(ckpt), "--words", "emma,ava", *(["--label", label] if label else [])])
        scored[label] = [line.split("\t") for line in capsys.readouterr().out.splitlines()[1:]]
    for row, word in enumerate(["emma", "ava"]):
        by_label = model.word_log_likelihoods(*model.vocabulary.encode_padded([word], len(word) + 1))[0]
        for i, label in enumerate("ab"):
            assert float(scored[label][row][1]) == pytest.approx(-by_label[i].item(), abs=1e-3)
            assert scored[label][row][-3:] == scored[None][row][-3:]  # label, p(a), p(b)
        mixture = -torch.logsumexp(by_label + model.label_prior.log(), 0).item()
        assert float(scored[None][row][1]) == pytest.approx(mixture, abs=1e-3)
    with pytest.raises(SystemExit):
        cli_main(["score", "--ckpt_path", str(ckpt), "--words", "emma", "--label", "c"])
    assert capsys.readouterr().err == "makemore-pl score: error: --label: unknown label 'c'; the model knows a, b\n"


@pytest.mark.slow
def test_a_labelled_run_resumes_bitwise_and_trains_in_bf16(tmp_path, labelled_file):
    # No one-cycle schedule, whose length would differ between 2 and 3 epochs; dropout draws every step.
    plain = ["--model.lr_scheduler", "null", "--trainer.max_steps", "-1", "--model.dropout", "0.2"]
    straight, _ = fit(tmp_path / "straight", labelled_file, "gru", *plain, "--trainer.max_epochs", "3")
    _, ckpt = fit(tmp_path, labelled_file, "gru", *plain)
    args = [*labelled_args(tmp_path, labelled_file, "gru", *plain), "--trainer.max_epochs", "3"]
    resumed = run_cli(MakemoreCLI, ["fit", *args, "--ckpt_path", str(ckpt)])
    assert resumed.trainer.global_step == straight.trainer.global_step > 0
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    bf16_mixed = ["--trainer.precision", "bf16-mixed", "--trainer.max_epochs", "1"]
    bf16, _ = fit(tmp_path / "bf16", labelled_file, "mlp", *bf16_mixed)
    assert torch.isfinite(bf16.trainer.callback_metrics["val/nll/a"])


def test_the_lr_finder_sweeps_a_labelled_model(tmp_path, labelled_file):
    from makemore_pl.cli.lr import find_lr

    args = [*labelled_args(tmp_path, labelled_file, "mlp"), "--lr_find.num_training", "5"]
    find_lr(args)
    assert next((tmp_path / "logs").rglob("lr_find.tsv")).read_text().count("\n") == 5


@pytest.mark.slow
def test_two_processes_evaluate_a_labelled_model_like_one(tmp_path, labelled_file):
    _, ckpt = fit(tmp_path, labelled_file, "mlp")
    one = run_cli(MakemoreCLI, ["validate", *labelled_args(tmp_path, labelled_file, "mlp"), "--ckpt_path", str(ckpt)])
    ddp = ["--trainer.strategy", "ddp_spawn", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    validate = ["validate", *labelled_args(tmp_path, labelled_file, "mlp"), *ddp, "--ckpt_path", str(ckpt)]
    result = subprocess.run([sys.executable, "-m", "makemore_pl", *validate], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    for key in ("val/nll", "val/nll/a", "val/nll/b"):
        value = one.trainer.callback_metrics[key].item()
        printed = next(line for line in result.stdout.splitlines() if line.split() and line.split()[0] == key)
        assert float(printed.split()[1]) == pytest.approx(value, rel=1e-5), key
