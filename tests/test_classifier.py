"""The label term -log p(label | word), the label calibration, the count mixture, `score --top_labels`, bad input."""

import pytest
import torch
from conftest import TINY_WORDS, tiny_args
from helpers import error_of, randomised
from test_scoring import by_hand, score

from makemore_pl import checkpoints
from makemore_pl.calibration import calibration_report, expected_calibration_error, fit_temperature
from makemore_pl.cli import cli_main
from makemore_pl.data.records import Batch, Labels
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.models import GRU, GRUCounts
from makemore_pl.models.classifier import label_loss, with_label_term
from makemore_pl.scoring import score_words

VOCAB = [".", "a", "b", "c", "d"]
WORDS = ["abba", "c", "dadca", "ba", "cab"]
LABELS = torch.tensor([0, 2, 1, 1, 0])


def labelled_batch(words=WORDS, labels=LABELS):
    x, y = Vocabulary(VOCAB).encode_padded(words, max(map(len, words)) + 1)
    return Batch(x, y, None, torch.tensor(float(sum(len(w) + 1 for w in words))), Labels(labels))


def test_the_term_is_bayes_rule_over_the_models_own_word_likelihoods_and_the_prior():
    model = randomised(GRU(VOCAB, labels=["x", "y", "z"], block_size=6, embedding=4, hidden=8, label_weight=0.5))
    model.label_prior.copy_(torch.tensor([0.5, 0.3, 0.2]))
    with torch.no_grad():
        term = label_loss(model, labelled_batch())
        # By hand: the chain rule one prefix at a time under each label, then Bayes' rule.
        expected = 0.0
        for word, label in zip(WORDS, LABELS.tolist()):
            joint = torch.tensor([-sum(by_hand(model, word, lab)) for lab in range(3)]) + model.label_prior.log()
            expected += -(joint.log_softmax(0)[label]).item()
    assert term.item() == pytest.approx(expected / len(WORDS), abs=1e-4)
    loss = torch.tensor(2.0)
    total, nll = with_label_term(model, labelled_batch(), loss, loss)
    assert total.item() == pytest.approx(2.0 + 0.5 * term.item(), abs=1e-5) and nll is loss


def test_weight_zero_leaves_the_loss_as_it_was_and_a_weight_moves_the_gradient():
    batch = labelled_batch()
    torch.manual_seed(0)
    plain = GRU(VOCAB, labels=["x", "y", "z"], block_size=6, embedding=4, hidden=8)
    loss = plain.nll(batch)
    assert with_label_term(plain, batch, loss, loss)[0] is loss  # weight 0 by default: not even an extra pass
    weighted = GRU(VOCAB, labels=["x", "y", "z"], block_size=6, embedding=4, hidden=8, label_weight=1.0)
    weighted.load_state_dict(plain.state_dict())
    with_label_term(weighted, batch, weighted.nll(batch), weighted.nll(batch))[0].backward()
    plain.nll(batch).backward()
    labels_grad = (weighted.network.tokens.labels.weight.grad, plain.network.tokens.labels.weight.grad)
    assert not torch.allclose(*labels_grad)
    # A labelled state saved before the label temperature existed loads, uncalibrated (T = 1).
    old = {key: value for key, value in weighted.state_dict().items() if key != "label_temperature"}
    plain.label_temperature.fill_(2.0)
    plain.load_state_dict(old)
    assert float(plain.label_temperature) == 1.0


def test_temperature_scaling_lowers_the_calibration_error_of_an_overconfident_posterior():
    torch.manual_seed(0)
    true_logits = torch.randn(3000, 4) * 1.5
    labels = torch.multinomial(true_logits.softmax(1), 1)[:, 0]
    truth = torch.nn.functional.one_hot(labels, 4).bool()
    overconfident = 3.0 * true_logits  # the right ranking, three times too sure
    temperature = fit_temperature(overconfident, truth)
    assert temperature == pytest.approx(3.0, rel=0.1)
    figures = calibration_report(overconfident, truth, temperature)
    assert figures["ece_calibrated"] < figures["ece"] / 3
    assert figures["label_nll_calibrated"] < figures["label_nll"]
    # ECE by hand on two words: confidences 0.9 (right) and 0.6 (wrong), in different bins.
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4]])
    assert expected_calibration_error(probs, torch.tensor([True, False])) == pytest.approx((0.1 + 0.6) / 2)


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory):
    """labelled.yaml at a tiny size with the term, two epochs on the tiny words labelled by their last letter."""
    folder = tmp_path_factory.mktemp("labelled")
    words = folder / "labelled.tsv"
    words.write_text("".join(f"{w}\t{'a' if w.endswith('a') else 'b'}\n" for w in TINY_WORDS))
    args = tiny_args(folder, words, "labelled", "--model.embedding", "4", "--model.hidden", "8")
    args += ["--model.label_weight", "0.5", "--trainer.max_epochs", "2", "--data.batch_size", "4"]
    cli_main(["fit", *args])
    best = next((folder / "logs").rglob("best-accuracy-*.ckpt"))  # the checkpoint chosen on val/accuracy
    return folder, words, best, args


def test_labelled_yaml_fits_with_the_term_chooses_on_val_accuracy_and_keeps_its_temperature(labelled_run, capsys):
    _, _, best, args = labelled_run
    saved = torch.load(best, weights_only=False)
    callback = next(v for k, v in saved["callbacks"].items() if "val/accuracy" in k)
    assert callback["best_model_score"] is not None and 0 <= float(callback["best_model_score"]) <= 1
    state = saved["state_dict"]
    assert 0.01 <= float(state["label_temperature"]) <= 100 and float(state["label_temperature"]) != 1.0
    assert 0 <= float(state["count_weight"]) <= 1 and float(state["count_smoothing"]) > 0
    assert saved["hyper_parameters"]["label_weight"] == 0.5
    cli_main(["test", *args, "--ckpt_path", str(best)])
    out = capsys.readouterr().out
    assert "test/accuracy" in out and "test/ece_calibrated" in out
    # The mixture is a distribution over the next character, and sampling draws from it.
    model = checkpoints.load_model(best)
    x, _ = model.vocabulary.encode_padded(["emma", "ava"], 9)
    with model.evaluating():
        model.count_weight.fill_(0.4)
        probs = model.word_logits(x, torch.tensor([0, 1])).exp().sum(-1)
    assert torch.allclose(probs, torch.ones_like(probs), atol=1e-5)
    assert len(model.sample(num_samples=3)) == 3


def test_the_mixture_is_the_normalised_product_by_default_and_a_checkpoint_without_the_choice_is_linear(
    labelled_run, tmp_path
):
    model = randomised(GRUCounts(VOCAB, labels=["x", "y"], block_size=6, embedding=4, hidden=8))
    with torch.no_grad():
        model.label_counts.uniform_(0, 5)
        model.count_weight.fill_(0.3)
        model.count_smoothing.fill_(0.5)
    x, _ = Vocabulary(VOCAB).encode_padded(["abba", "cd"], 6)
    label = torch.tensor([0, 1])
    with model.evaluating():
        network = GRU.logits(model, x, label).log_softmax(-1)
        counts = model.count_log_probs(x, label, 0.5)
        product = network.exp() ** 0.7 * counts.exp() ** 0.3  # by hand: p_GRU^(1 - w) p_counts^w, normalised
        assert torch.allclose(model.logits(x, label).exp(), product / product.sum(-1, keepdim=True), atol=1e-5)
        model.mixture = "linear"
        assert torch.allclose(model.logits(x, label).exp(), 0.7 * network.exp() + 0.3 * counts.exp(), atol=1e-5)
    # A checkpoint saved before --model.mixture existed held a linear mixture, with weights chosen for it.
    _, _, best, _ = labelled_run
    saved = torch.load(best, weights_only=False)
    assert checkpoints.load_model(best).mixture == "log_linear"
    del saved["hyper_parameters"]["mixture"]
    torch.save(saved, tmp_path / "before.ckpt")
    assert checkpoints.load_model(tmp_path / "before.ckpt").mixture == "linear"


def test_score_prints_calibrated_posteriors_and_the_top_labels(labelled_run, capsys):
    _, _, best, _ = labelled_run
    model = checkpoints.load_model(best)
    expected = score_words(model, ["emma", "ava"])
    # Calibrated: the softmax over labels of the log joint divided by the checkpoint's temperature.
    with model.evaluating():
        x, y = model.vocabulary.encode_padded(["emma", "ava"], 5)
        joint = model.word_log_likelihoods(x, y) + model.label_prior.log()
    calibrated = (joint / model.label_temperature).softmax(1)
    given = torch.tensor([list(s.posterior.values()) for s in expected])
    assert torch.allclose(given, calibrated, atol=1e-4) and float(model.label_temperature) != 1.0
    lines, _ = score(["--ckpt_path", str(best), "--words", "emma,ava", "--top_labels", "2"], capsys)
    assert lines[0][-4:] == ["label_1", "p_1", "label_2", "p_2"]
    for line, want in zip(lines[1:], expected, strict=True):
        ranked = sorted(want.posterior.items(), key=lambda item: -item[1])
        assert line[-4:-2] == [ranked[0][0], f"{ranked[0][1]:.4f}"] and line[-2] == ranked[1][0]
    lines, _ = score(["--ckpt_path", str(best), "--words", "emma", "--top_labels", "1"], capsys)
    assert lines[0][-2:] == ["label_1", "p_1"] and len(lines[1]) == len(lines[0])


def test_bad_input_is_one_line(labelled_run, tiny_file, tmp_path, capsys):
    _, _, best, _ = labelled_run
    with pytest.raises(SystemExit) as exit_:
        cli_main(["score", "--ckpt_path", str(best), "--words", "emma", "--top_labels", "3"])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2
    assert line == "makemore-pl score: error: --top_labels 3: the model has 2 labels (a, b); give 1 to 2"
    unlabelled = ["fit", *tiny_args(tmp_path, tiny_file, "gru", "--model.label_weight", "0.5")]
    assert "--model.label_weight 0.5: the term -log p(label | word) needs labelled words" in error_of(
        capsys, unlabelled
    )
    negative = ["fit", *tiny_args(tmp_path, tiny_file, "gru", "--model.label_weight", "-1")]
    assert "--model.label_weight must be >= 0 (0: no label term), got -1.0" in error_of(capsys, negative)
    with pytest.raises(UsageError, match="CountNGram reads counted, not whole words"):
        from makemore_pl.models import CountNGram

        CountNGram(VOCAB, labels=["x", "y"], label_weight=1.0)
    with pytest.raises(UsageError, match="count_weight must be between 0 and 1"):
        GRUCounts(VOCAB, labels=["x"], count_weight=1.5)
    with pytest.raises(UsageError, match=r"--model\.mixture must be one of log_linear, linear, got 'sum'"):
        GRUCounts(VOCAB, labels=["x"], mixture="sum")
    args = labelled_run[3]
    assert error_of(capsys, ["fit", *args, "--model.mixture", "sum"]).endswith(
        "--model.mixture: expected one of 'log_linear', 'linear', got 'sum'"
    )
