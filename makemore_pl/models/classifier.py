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

from collections.abc import Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor

from makemore_pl.data.records import WORDS, Batch, Labels
from makemore_pl.errors import UsageError
from makemore_pl.sampling.probabilities import label_prior, position_log_probs


class BayesClassifier:
    """What a labelled ``LanguageModel`` classifies with: Bayes' rule over its own ``log p(word | label)``.

    Mixed into ``LanguageModel``, which gives ``labels``, ``num_labels``, ``word_logits`` and ``log``.
    """

    def label_ids(self, names: Sequence[str], option: str = "--sampling.label") -> Tensor:
        """The ids of the label ``names`` on the model's device; a name the model does not know is a UsageError."""
        if self.labels is None:
            raise UsageError(f"{option}: this model was trained without labels")
        unknown = [name for name in names if name not in self.labels]
        if unknown:
            raise UsageError(f"{option}: unknown label {unknown[0]!r}; the model knows {', '.join(self.labels)}")
        return torch.tensor([self.labels.index(name) for name in names], dtype=torch.long, device=self.device)

    def _evaluate_labels(self, labels: Labels, row_losses: Tensor, stage: str) -> None:
        """``<stage>/nll/<label>`` and, for the words to classify, ``test/accuracy``: exact, as ``nll`` is."""
        assert self.labels is not None and labels.totals is not None
        sums = row_losses.new_zeros(self.num_labels).index_add_(0, labels.ids, row_losses)
        # A label without words in the split (one that only a fine-tuned checkpoint knows) has no mean
        # to log, not a NaN. The totals are the whole split's, so every process skips the same labels.
        present = (labels.totals > 0).tolist()
        for name, value, there in zip(self.labels, sums / labels.totals, present):
            if there:
                self.log(f"{stage}/nll/{name}", value, on_epoch=True, reduce_fx="sum", sync_dist=True)
        if labels.classify is not None:
            words = labels.classify
            right = words.labels.gather(1, self.classify(words.x, words.y)[:, None]).sum()
            self.log(f"{stage}/accuracy", right / words.total, on_epoch=True, reduce_fx="sum", sync_dist=True)

    def word_log_likelihoods(self, x: Tensor, y: Tensor) -> Tensor:
        """``log p(word | label)`` ``(n, L)`` of each padded word (``Vocabulary.encode_padded``) under every label.

        One pass of ``word_logits`` over every (word, label) pair: the words repeated once per label.
        """
        n, labels = len(x), torch.arange(self.num_labels, device=x.device)
        if n == 0:
            return x.new_zeros(0, self.num_labels, dtype=torch.float)
        picked = position_log_probs(
            self, x.repeat(self.num_labels, 1), y.repeat(self.num_labels, 1), labels.repeat_interleave(n)
        )
        return picked.sum(1).view(self.num_labels, n).T

    def classify(self, x: Tensor, y: Tensor) -> Tensor:
        """Each word's label by Bayes' rule: argmax over labels of log p(word | label) + log p(label)."""
        joint = self.word_log_likelihoods(x, y) + label_prior(self).log().float().to(x.device)
        return joint.argmax(1)  # ties: the first label in sorted order, as baselines.Classifier does


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
    x, y, labels = batch.x, batch.y, batch.labels.ids
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
