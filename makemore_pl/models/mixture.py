"""A GRU interpolated with per-label character trigram counts: a generator that classifies like counting.

The next character's distribution is the mixture

    p(c | context, label) = (1 - w) p_GRU(c | context, label) + w p_counts(c | last two characters, label)

with ``p_counts`` each label's own trigram table, add-``a`` smoothed:
``(N_l(ctx, c) + a) / (N_l(ctx) + a V)``. Both parts are distributions over the next character, so
the mixture is one too: it samples, scores and is evaluated like any model (``val/nll`` is the
mixture's), and classifies by Bayes' rule over its own ``p(word | label)``.

Why: on the labelled name sets the GRU is the better language model but the per-label trigram
counts the better classifier (docs/labels.md): the counts keep each label's own table, sharp on the
few contexts that tell the labels apart, where the GRU shares almost everything between labels.

Fitting is classic interpolation (Jelinek and Mercer 1980): training fits the GRU alone, as
``GRU`` does (with ``--model.label_weight`` if given); the counts are taken from the training split
when fit starts (kept in the checkpoint); and ``w`` and ``a`` are chosen on the validation split
at the start of each validation (``makemore_pl.calibration.LabelCalibration`` calls
``tune_on_validation``): among the (w, a) whose validation NLL is within ``NLL_SLACK`` (0.01) of the
best, the one with the best validation accuracy, ties to the lower NLL. A mixture chosen on accuracy
alone gives up up to 0.1 nats of NLL by language for a few points of accuracy: it would classify,
but no longer be the better generator. Each
checkpoint then holds the weights chosen for its GRU. ``--model.count_weight`` and
``--model.count_smoothing`` fix them instead.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from makemore_pl.data.records import Classify
from makemore_pl.data.vocab import PAD
from makemore_pl.errors import UsageError
from makemore_pl.models.recurrent import GRU
from makemore_pl.sampling.decoders import Decoder, Rerunning

WEIGHTS = tuple(i / 20 for i in range(21))  # w on val: 0 (the GRU alone) to 1 (the counts alone)
SMOOTHINGS = (0.1, 0.3, 1.0, 3.0)  # a on val: the range where the baselines' trigram classifier is best
# How much val NLL (nats per character) the mixture may give up for val accuracy: the choice is the most
# accurate mixture among those within this of the best val NLL, so it stays as good a generator as it can be.
NLL_SLACK = 0.01
CONTEXT = 2  # characters a count table reads: a trigram
MAX_TABLE = 50_000_000  # cells of the count tables (labels x V^3), 200 MB of float32


class GRUCounts(GRU):
    def __init__(
        self,
        vocab: list[str],
        count_weight: float | None = None,
        count_smoothing: float | None = None,
        **kwargs: Any,
    ) -> None:
        """A GRU whose next-character distribution is mixed with each label's trigram counts (see the module).

        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            count_weight: The counts' share w of the mixture, 0 to 1 (null: chosen on val at each validation).
            count_smoothing: The counts' add-a smoothing, above 0 (null: chosen on val with w).
                With one of them fixed, the other is chosen alone.
            **kwargs: The GRU's arguments, training and sampling options: see ``GRU`` and ``LanguageModel``.
        """
        super().__init__(vocab, **kwargs)
        if count_weight is not None and not 0 <= count_weight <= 1:
            raise UsageError(f"--model.count_weight must be between 0 and 1 (null: chosen on val), got {count_weight}")
        if count_smoothing is not None and count_smoothing <= 0:
            raise UsageError(f"--model.count_smoothing must be above 0 (null: chosen on val), got {count_smoothing}")
        tables = max(self.num_labels, 1)
        if tables * self.vocab_size ** (CONTEXT + 1) > MAX_TABLE:
            raise UsageError(
                f"GRUCounts: {tables} trigram tables of {self.vocab_size} characters are too large "
                f"(over {MAX_TABLE:,} cells); use GRU"
            )
        self.fixed_weight, self.fixed_smoothing = count_weight, count_smoothing
        self.register_buffer("label_counts", torch.zeros(tables, self.vocab_size**CONTEXT, self.vocab_size))
        self.register_buffer("count_weight", torch.tensor(0.0 if count_weight is None else count_weight))
        self.register_buffer("count_smoothing", torch.tensor(1.0 if count_smoothing is None else count_smoothing))

    def rows_of(self, x: Tensor) -> Tensor:
        """The count table's row at every position of ``x`` ``(n, T)``: its last two characters, the boundary before."""
        padded = F.pad(x, (CONTEXT - 1, 0))
        return padded[:, :-1] * self.vocab_size + padded[:, 1:]

    def count_log_probs(self, x: Tensor, label: Tensor | None, smoothing: Tensor | float) -> Tensor:
        """``log p_counts(c | last two characters, label)`` ``(n, T, V)`` at every position of ``x``."""
        table = torch.zeros(len(x), dtype=torch.long, device=x.device) if label is None else label
        counts = self.label_counts[table[:, None], self.rows_of(x)]
        return (counts + smoothing).log() - (counts.sum(-1, keepdim=True) + smoothing * self.vocab_size).log()

    def logits(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        network = super().logits(x, label)
        weight = float(self.count_weight)
        if self.training or weight == 0:  # training fits the GRU alone; w = 0 is the GRU exactly
            return network
        counts = self.count_log_probs(x, label, self.count_smoothing)
        return self.mix(network.float().log_softmax(-1), counts, weight)

    def next_logits(self, tokens: Tensor, label: Tensor | None = None) -> Tensor:
        return self.logits(tokens, label)[:, -1]

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder:
        # The counts read the last two characters of the prefix: re-run on each whole prefix.
        return Rerunning(self.next_logits, n, label, self.device)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        # A weight given now wins over the checkpoint's: --model.count_weight 0 evaluates its GRU alone.
        state = checkpoint.get("state_dict", {})
        for name, fixed in (("count_weight", self.fixed_weight), ("count_smoothing", self.fixed_smoothing)):
            if fixed is not None and name in state:
                state[name] = torch.tensor(float(fixed))

    def on_fit_start(self) -> None:
        super().on_fit_start()
        datamodule = self.trainer.datamodule
        words = datamodule.splits["train"]
        labels = datamodule.split_labels.get("train") if self.labels is not None else None
        self.label_counts.zero_()
        x, y = self.vocabulary.encode_padded(words, max(map(len, words), default=0) + 1)
        x, y = x.to(self.device), y.to(self.device)
        table = torch.zeros(len(x), dtype=torch.long, device=self.device) if labels is None else labels.to(self.device)
        keep = y != PAD
        rows, tables = self.rows_of(x)[keep], table[:, None].expand_as(y)[keep]
        self.label_counts.index_put_((tables, rows, y[keep]), torch.ones_like(rows, dtype=torch.float), accumulate=True)

    def tune_on_validation(self, words: Classify) -> None:
        """Choose w and a on the validation words (unless fixed): the best accuracy, ties to the lower NLL."""
        if self.fixed_weight is not None and self.fixed_smoothing is not None:
            return
        network, counts = self.target_log_probs(words)
        truth = words.labels.to(self.device).T  # (L, n)
        predictions = (words.y != PAD).sum(1).to(self.device)  # per word
        weights = WEIGHTS if self.fixed_weight is None else (self.fixed_weight,)
        candidates = []  # (accuracy, nll, weight, smoothing)
        for smoothing, count in counts.items():
            for weight in weights:
                mixed = self.mix(network, count, weight).sum(-1)  # (L, n): log p(word | label)
                joint = mixed.T + self.label_prior.log()
                right = truth.T.gather(1, joint.argmax(1, keepdim=True)).float().mean()
                nll = -(mixed * truth).sum() / (predictions * truth).sum()
                candidates.append((float(right), float(nll), weight, smoothing))
        # A generator first: only the mixtures within NLL_SLACK of the best val NLL; of those the best classifier.
        best_nll = min(nll for _, nll, _, _ in candidates)
        good = [c for c in candidates if c[1] <= best_nll + NLL_SLACK]
        _, _, weight, smoothing = max(good, key=lambda c: (c[0], -c[1]))
        self.count_weight.fill_(weight)
        self.count_smoothing.fill_(smoothing)

    @staticmethod
    def mix(network: Tensor, counts: Tensor, weight: float) -> Tensor:
        """The mixture's log-probabilities from its parts' (``-inf`` parts are fine: ``logaddexp``)."""
        if weight == 0:
            return network
        if weight == 1:
            return counts
        return torch.logaddexp(network + torch.log1p(torch.tensor(-weight)), counts + torch.log(torch.tensor(weight)))

    def target_log_probs(self, words: Classify) -> tuple[Tensor, dict[float, Tensor]]:
        """Each word's characters' log-probabilities ``(L, n, T)`` (0 at padding) under every label:
        the GRU's, and the counts' at each smoothing on the grid (or the fixed one)."""
        smoothings = SMOOTHINGS if self.fixed_smoothing is None else (self.fixed_smoothing,)
        labels = torch.arange(max(self.num_labels, 1), device=self.device)
        network, counts = [], {s: [] for s in smoothings}
        with self.evaluating():
            for label in labels:
                x, y = words.x.to(self.device), words.y.to(self.device)
                row_label = None if self.labels is None else label.expand(len(x))
                target = y.clamp_min(0)[..., None]
                pad = y == PAD
                out = super().logits(x, row_label).float().log_softmax(-1)
                network.append(out.gather(2, target)[..., 0].masked_fill(pad, 0.0))
                for s in smoothings:
                    count = self.count_log_probs(x, row_label, s).gather(2, target)[..., 0]
                    counts[s].append(count.masked_fill(pad, 0.0))
        return torch.stack(network), {s: torch.stack(c) for s, c in counts.items()}
