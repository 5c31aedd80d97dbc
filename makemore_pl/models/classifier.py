"""Training a labelled model to classify as well as to generate: the term -log p(label | word).

A labelled model gives ``log p(word | label)`` for every label; Bayes' rule with the training
split's prior ``p(label)`` turns them into the posterior

    p(label | word) = p(word | label) p(label) / sum_l p(word | l) p(l)

With ``--model.label_weight w > 0`` the loss adds ``w`` times the mean over the batch's words of
``-log p(label | word)``: maximum mutual information training, as in speech recognition (Bahl et
al. 1986) and Bouchard and Triggs (2004), "The trade-off between generative and discriminative
classifiers". The NLL (the generative term) stays in the loss, so the model remains a generator;
``w = 0`` is plain maximum likelihood, exactly as without this module.

The term needs every word of a batch whole, under every label: one more pass over the batch
repeated once per label (``LanguageModel.word_log_likelihoods``). Only models that read whole
words (``layout`` WORDS: BoW, RNN, GRU, LSTM, Transformer) have them; a window or n-gram model's
batch holds windows of many words, and a counting model has no gradient to follow.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from makemore_pl.data.records import WORDS, Batch
from makemore_pl.errors import UsageError


def setup_labels(model: L.LightningModule, label_weight: float) -> None:
    """Check ``--model.label_weight`` against the model and keep it; give a labelled model its label buffers.

    ``label_prior``: p(label) for Bayes' rule, from the training split when fit starts
    (``LanguageModel.on_fit_start``), and kept in the checkpoint, so a model alone can classify;
    uniform until then. ``label_temperature``: divides the log joint ``log p(word | label) + log
    p(label)`` before the softmax over labels; ``makemore_pl.calibration`` fits it on the validation
    split, and the checkpoint keeps it (1, uncalibrated, for a checkpoint saved before it existed).
    """
    if label_weight < 0:
        raise UsageError(f"--model.label_weight must be >= 0 (0: no label term), got {label_weight}")
    if label_weight > 0 and model.labels is None:
        raise UsageError(
            f"--model.label_weight {label_weight}: the term -log p(label | word) needs labelled words "
            "(--data.labelled true, or a folder of <label>.txt files); these words have no labels"
        )
    if label_weight > 0 and model.layout != WORDS:
        raise UsageError(
            f"--model.label_weight {label_weight}: {type(model).__name__} reads {model.layout}, not whole words; "
            "the term needs a model of whole words (bow, rnn, gru, lstm, transformer)"
        )
    model.label_weight = float(label_weight)
    if model.labels is not None:
        model.register_buffer("label_prior", torch.full((model.num_labels,), 1.0 / model.num_labels))
        model.register_buffer("label_temperature", torch.ones(()))
        model.register_load_state_dict_pre_hook(complete_state)


def label_log_posterior(model: L.LightningModule, x: Tensor, y: Tensor) -> Tensor:
    """``log p(label | word)`` ``(n, L)`` by Bayes' rule over the model's own ``log p(word | label)`` and its prior."""
    joint = model.word_log_likelihoods(x, y) + model.label_prior.log()
    return joint.log_softmax(1)


def label_loss(model: L.LightningModule, batch: Batch) -> Tensor:
    """The mean over the batch's words of ``-log p(label | word)``, each word under its own row's label."""
    x, y, labels = batch[0], batch[1], batch[4].ids
    if len(x) == 0:
        return x.new_zeros((), dtype=torch.float)
    return F.nll_loss(label_log_posterior(model, x, y), labels)


def with_label_term(model: L.LightningModule, batch: Batch, loss: Tensor, nll: Tensor) -> tuple[Tensor, Tensor]:
    """``loss`` plus ``label_weight`` times the label term (logged: ``train/label_nll``), and ``nll``: as
    ``LanguageModel.objective`` returns them, ``loss`` itself at weight 0."""
    if not getattr(model, "label_weight", 0.0):
        return loss, nll
    term = label_loss(model, batch)
    if model._trainer is not None and (model.global_step + 1) % model.trainer.log_every_n_steps == 0:
        model.log("train/label_nll", term, sync_dist=True)
    return loss + model.label_weight * term, nll


def complete_state(model: L.LightningModule, state: dict, prefix: str, *args: object) -> None:
    """A labelled model's state saved before the label temperature existed gets temperature 1: uncalibrated."""
    state.setdefault(f"{prefix}label_temperature", torch.ones(()))
