"""A GRU combined with per-label character trigram counts: a generator that classifies like counting.

The next character's distribution is, by default, the log-linear mixture (a product of experts)

    p(c | context, label) ∝ p_GRU(c | context, label)^(1 - w) · p_counts(c | last two characters, label)^w

normalised over the characters at every position (Klakow 1998, "Log-linear interpolation of language
models"; Hinton 2002, "Training products of experts"), or with ``--model.mixture linear`` the linear one
(Jelinek and Mercer 1980)

    p(c | context, label) = (1 - w) p_GRU(c | context, label) + w p_counts(c | last two characters, label)

with ``p_counts`` each label's own trigram table, add-``a`` smoothed:
``(N_l(ctx, c) + a) / (N_l(ctx) + a V)``. Either way the mixture is a distribution over the next
character: it samples, scores and is evaluated like any model (``val/nll`` is the mixture's), and
classifies by Bayes' rule over its own ``p(word | label)``.

Why: on the labelled name sets the GRU is the better language model but the per-label trigram
counts the better classifier (docs/labels.md): the counts keep each label's own table, sharp on the
few contexts that tell the labels apart, where the GRU shares almost everything between labels.
Why log-linear by default: a linear mixture's probability is at least ``(1 - w)`` times the GRU's, so
where the GRU is sure the counts barely move it, and a label's evidence from its own counts is lost
in the sum. The product lets each part veto what it finds unlikely. On the same checkpoints
(docs/labels.md, fifth pass) it is the better generator (val/nll lower by 0.007 to 0.04) and the
better classifier.

Fitting: training fits the GRU alone, as ``GRU`` does (with ``--model.label_weight`` if given); the
counts are taken from the training split when fit starts (kept in the checkpoint); and ``w`` and
``a`` are chosen on the validation split at the start of each validation
(``makemore_pl.calibration.LabelCalibration`` calls ``tune_on_validation``): among the (w, a) whose
validation NLL is within ``NLL_SLACK`` (0.01) of the best, the one with the best validation
accuracy, ties to the lower NLL. A mixture chosen on accuracy alone gives up up to 0.1 nats of NLL
by language for a few points of accuracy: it would classify, but no longer be the better generator.
Each checkpoint then holds the weights chosen for its GRU. ``--model.count_weight`` and
``--model.count_smoothing`` fix them instead.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from makemore_pl.data.counting import row_predictions
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
Mixture = Literal["log_linear", "linear"]
MIXTURES: tuple[Mixture, ...] = ("log_linear", "linear")


class GRUCounts(GRU):
    def __init__(
        self,
        vocab: list[str],
        count_weight: float | None = None,
        count_smoothing: float | None = None,
        mixture: Mixture = "log_linear",
        **kwargs: Any,
    ) -> None:
        """A GRU whose next-character distribution is mixed with each label's trigram counts (see the module).

        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            count_weight: The counts' share w of the mixture, 0 to 1 (null: chosen on val at each validation).
            count_smoothing: The counts' add-a smoothing, above 0 (null: chosen on val with w).
                With one of them fixed, the other is chosen alone.
            mixture: How the two parts combine: ``log_linear``, the normalised product
                ``p_GRU^(1 - w) p_counts^w``, or ``linear``, ``(1 - w) p_GRU + w p_counts`` (see the module).
            **kwargs: The GRU's arguments, training and sampling options: see ``GRU`` and ``LanguageModel``.
        """
        super().__init__(vocab, **kwargs)
        if count_weight is not None and not 0 <= count_weight <= 1:
            raise UsageError(f"--model.count_weight must be between 0 and 1 (null: chosen on val), got {count_weight}")
        if count_smoothing is not None and count_smoothing <= 0:
            raise UsageError(f"--model.count_smoothing must be above 0 (null: chosen on val), got {count_smoothing}")
        if mixture not in MIXTURES:
            raise UsageError(f"--model.mixture must be one of {', '.join(MIXTURES)}, got {mixture!r}")
        self.mixture = mixture
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
        if self.training:  # training fits the GRU alone
            return network
        counts = self.count_log_probs(x, label, self.count_smoothing)
        return self.mix(network.float().log_softmax(-1), counts, self.count_weight, self.mixture)

    def next_logits(self, tokens: Tensor, label: Tensor | None = None) -> Tensor:
        return self.logits(tokens, label)[:, -1]

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder:
        # The counts read the last two characters of the prefix: re-run on each whole prefix.
        return Rerunning(self.next_logits, n, label, self.device)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        # A checkpoint saved before the choice existed was a linear mixture, its weights chosen for one.
        saved = checkpoint.get("hyper_parameters")
        if saved is not None and "mixture" not in saved:
            self.mixture = self.hparams["mixture"] = "linear"
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
        likelihoods = self.mixture_word_log_likelihoods(words)
        truth = words.labels.to(self.device).T  # (L, n)
        predictions = row_predictions(words.y).to(self.device)  # per word
        candidates = []  # (accuracy, nll, weight, smoothing)
        for (weight, smoothing), mixed in likelihoods.items():  # mixed (L, n): log p(word | label)
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
    def mix(network: Tensor, counts: Tensor, weight: Tensor | float, mixture: Mixture = "log_linear") -> Tensor:
        """The mixture's log-probabilities over the next character (last dimension) from its parts'.

        No branch on w's value, so an exported graph serves every w: w = 0 is the GRU's distribution
        (linear: exactly, since ``log 0`` is ``-inf`` and ``logaddexp`` ignores it), w = 1 the counts'.
        """
        weight = torch.as_tensor(weight, dtype=network.dtype, device=network.device)
        if mixture == "log_linear":
            return ((1 - weight) * network + weight * counts).log_softmax(-1)
        return torch.logaddexp(network + torch.log1p(-weight), counts + torch.log(weight))

    def mixture_word_log_likelihoods(self, words: Classify) -> dict[tuple[float, float], Tensor]:
        """``log p(word | label)`` ``(L, n)`` of every word under every label, for each (w, a) on the grid:
        ``WEIGHTS`` by ``SMOOTHINGS``, or the fixed one of either."""
        weights = WEIGHTS if self.fixed_weight is None else (self.fixed_weight,)
        smoothings = SMOOTHINGS if self.fixed_smoothing is None else (self.fixed_smoothing,)
        x, y = words.x.to(self.device), words.y.to(self.device)
        # Only the positions that predict a character: the padding is most of a batch of short words.
        keep = y != PAD
        word_of, target = keep.nonzero()[:, 0], y[keep][:, None]
        sums: dict[tuple[float, float], list[Tensor]] = {(w, s): [] for w in weights for s in smoothings}
        with self.evaluating():
            for label in range(max(self.num_labels, 1)):
                row_label = None if self.labels is None else torch.full((len(x),), label, device=self.device)
                network = super().logits(x, row_label).float().log_softmax(-1)[keep]
                for s in smoothings:
                    counts = self.count_log_probs(x, row_label, s)[keep]
                    for w in weights:
                        picked = self.mix(network, counts, w, self.mixture).gather(1, target)[:, 0]
                        sums[w, s].append(picked.new_zeros(len(x)).index_add_(0, word_of, picked))
        return {key: torch.stack(rows) for key, rows in sums.items()}
