"""Calibrated label posteriors: a temperature fitted on the validation split, and the calibration error.

A labelled model's posterior ``p(label | word)`` (Bayes' rule, ``models/classifier.py``) is often
over-confident: a word's log-likelihood sums one term per character, so the gaps between labels
grow with its length, and the posterior of a long word is near 0 or 1 whether it is right or not.
Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks") divides the log
joint ``log p(word | label) + log p(label)`` by one number ``T`` before the softmax over labels,
chosen to minimise the NLL of the validation words' labels. The argmax, and so the accuracy, does
not change; the confidence does. ``T`` lives in the model's buffer ``label_temperature``, kept in
the checkpoint: ``score`` prints the calibrated posterior.

``LabelCalibration`` does it for every labelled model at the start of each validation: it
classifies the validation words once, fits ``T`` for the weights being validated (so each
checkpoint saved after that validation holds its own ``T``), and logs

- ``val/accuracy``: Bayes' rule on the distinct validation words, as ``test/accuracy`` counts them
  (a checkpoint can be chosen on it: ``ModelCheckpoint(monitor="val/accuracy", mode="max")``);
- ``val/ece``, ``val/ece_calibrated``: the expected calibration error before and after.

At test it logs ``test/ece`` and ``test/ece_calibrated``, under the checkpoint's temperature.

The expected calibration error: the words are put in 15 equal-width bins by their confidence (the
largest posterior), and ECE is the mean over words of ``|accuracy(bin) - confidence(bin)|``,
weighted by each bin's share of the words. A word under several labels is right when its argmax is
any of them, as ``test/accuracy`` counts, and its label NLL is that of the set of its labels.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from makemore_pl.data.records import Classify
from makemore_pl.errors import UsageError

if TYPE_CHECKING:
    from makemore_pl.models.base import LanguageModel

BINS = 15  # Guo et al.'s number of confidence bins
# Rows (words times labels) per pass when classifying a split: as scoring.CHUNK_ROWS.
CHUNK_ROWS = 2048


def log_joint(model: LanguageModel, words: Classify) -> Tensor:
    """``log p(word | label) + log p(label)`` ``(n, L)`` for every word of ``words``, in chunks, without gradients."""
    per_chunk = max(1, CHUNK_ROWS // model.num_labels)
    parts = []
    with model.evaluating():
        for start in range(0, len(words.x), per_chunk):
            x = words.x[start : start + per_chunk].to(model.device)
            y = words.y[start : start + per_chunk].to(model.device)
            parts.append(model.word_log_likelihoods(x, y).float())
    joint = torch.cat(parts) if parts else torch.zeros(0, model.num_labels, device=model.device)
    return joint + model.label_prior.log().float()


def label_nll(joint: Tensor, truth: Tensor, temperature: Tensor | float = 1.0) -> Tensor:
    """Mean over words of ``-log p(word's labels | word)`` under ``softmax(joint / temperature)``."""
    log_posterior = (joint / temperature).log_softmax(1)
    return -log_posterior.masked_fill(~truth, float("-inf")).logsumexp(1).mean()


def correct(joint: Tensor, truth: Tensor) -> Tensor:
    """Whether each word's argmax label is one of its labels."""
    return truth.gather(1, joint.argmax(1, keepdim=True))[:, 0]


def expected_calibration_error(probs: Tensor, right: Tensor, bins: int = BINS) -> float:
    """ECE of posteriors ``probs`` ``(n, L)`` whose argmax is ``right`` ``(n,)`` (bool): see the module's docstring."""
    if len(probs) == 0:
        return 0.0
    confidence = probs.max(1).values.double()
    # Bin b holds confidences in (b / bins, (b + 1) / bins]; a confidence of exactly 0 cannot occur.
    which = (confidence * bins).ceil().long().clamp(1, bins) - 1
    sum_conf = torch.zeros(bins, dtype=torch.float64).index_add_(0, which.cpu(), confidence.cpu())
    sum_right = torch.zeros(bins, dtype=torch.float64).index_add_(0, which.cpu(), right.double().cpu())
    return float((sum_right - sum_conf).abs().sum() / len(probs))


def fit_temperature(joint: Tensor, truth: Tensor, low: float = 1e-2, high: float = 1e2) -> float:
    """The temperature in [``low``, ``high``] minimising ``label_nll`` on (``joint``, ``truth``).

    Golden-section search on log T: no gradients, so it runs as well inside validation's inference
    mode. The NLL is convex in 1 / T for words of one label (a log-sum-exp of lines, less a line),
    so it has one minimum, which the search finds to a relative 1e-6.
    """
    if len(joint) == 0:
        return 1.0
    joint, truth = joint.double(), truth.to(joint.device)

    def loss(log_t: float) -> float:
        return float(label_nll(joint, truth, math.exp(log_t)))

    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    loss_c, loss_d = loss(c), loss(d)
    while b - a > 1e-6:
        if loss_c <= loss_d:  # the minimum is in [a, d]
            b, d, loss_d = d, c, loss_c
            c = b - ratio * (b - a)
            loss_c = loss(c)
        else:
            a, c, loss_c = c, d, loss_d
            d = a + ratio * (b - a)
            loss_d = loss(d)
    return math.exp((a + b) / 2)


def calibration_report(joint: Tensor, truth: Tensor, temperature: float) -> dict[str, float]:
    """Accuracy, and ECE and label NLL before (T = 1) and after calibration (``temperature``)."""
    right = correct(joint, truth)
    return {
        "accuracy": float(right.float().mean()) if len(right) else 0.0,
        "ece": expected_calibration_error(joint.softmax(1), right),
        "ece_calibrated": expected_calibration_error((joint / temperature).softmax(1), right),
        "label_nll": float(label_nll(joint, truth)) if len(joint) else 0.0,
        "label_nll_calibrated": float(label_nll(joint, truth, temperature)) if len(joint) else 0.0,
    }


class LabelCalibration(Callback):
    """Fits a labelled model's label temperature on val before each validation; logs accuracy and ECE."""

    def __init__(self) -> None:
        self._words: dict[str, Classify] = {}

    def split_words(self, trainer: L.Trainer, split: str) -> Classify | None:
        if split not in self._words:
            datamodule = trainer.datamodule
            words = datamodule.classify(split) if hasattr(datamodule, "classify") else None
            if words is None or len(words.x) == 0:
                return None
            self._words[split] = words
        return self._words[split]

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: LanguageModel) -> None:
        words = None if trainer.sanity_checking else self.split_words(trainer, "val")
        if words is None:
            return
        truth = words.labels.to(pl_module.device)
        tune = getattr(pl_module, "tune_on_validation", None)  # a mixture chooses its weights on val first
        if tune is not None:
            tune(words)
        joint = log_joint(pl_module, words)
        temperature = fit_temperature(joint, truth)
        pl_module.label_temperature.fill_(temperature)
        figures = calibration_report(joint, truth, temperature)
        for name in ("accuracy", "ece", "ece_calibrated"):
            pl_module.log(f"val/{name}", figures[name], on_epoch=True)
        pl_module.log("val/label_temperature", temperature, on_epoch=True)

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: LanguageModel) -> None:
        words = self.split_words(trainer, "test")
        if words is None:
            return
        joint = log_joint(pl_module, words)
        figures = calibration_report(joint, words.labels.to(pl_module.device), float(pl_module.label_temperature))
        pl_module.log("test/ece", figures["ece"], on_epoch=True)
        pl_module.log("test/ece_calibrated", figures["ece_calibrated"], on_epoch=True)


def label_callbacks(model: LanguageModel) -> list[Callback]:
    """What a labelled model adds to the trainer's callbacks: its calibration; nothing for an unlabelled one."""
    return [LabelCalibration()] if model.labels is not None else []


def check_top_labels(model: LanguageModel, top_labels: int | None) -> None:
    """``--top_labels k`` must be between 1 and the model's number of labels, and only for a labelled model."""
    if top_labels is None:
        return
    if model.labels is None:
        raise UsageError(f"--top_labels {top_labels}: this model was trained without labels")
    if not 1 <= top_labels <= model.num_labels:
        raise UsageError(
            f"--top_labels {top_labels}: the model has {model.num_labels} labels ({', '.join(model.labels)}); "
            f"give 1 to {model.num_labels}"
        )


def top_labels(posterior: dict[str, float], k: int) -> list[tuple[str, float]]:
    """The ``k`` most probable labels of a word and their probabilities, best first (ties: sorted order)."""
    return sorted(posterior.items(), key=lambda item: -item[1])[:k]
