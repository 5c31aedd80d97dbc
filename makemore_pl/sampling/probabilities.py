"""The model's probabilities that sampling and scoring share: p(label), and log p(y | x, label) at each position."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from makemore_pl.data.vocab import PAD
from makemore_pl.errors import UsageError
from makemore_pl.sampling.protocol import Samplable


def label_prior(model: Samplable) -> Tensor:
    """p(label) ``(L,)`` in float64 on the CPU: the training split's, which the model keeps, else uniform.

    ``label_prior`` is a buffer of a labelled model (its training split's shares, kept in the
    checkpoint); a model without it weighs every label the same.
    """
    saved = getattr(model, "label_prior", None)  # counts or probabilities per label, in model.labels' order
    if saved is None:
        return torch.full((model.num_labels,), 1.0 / model.num_labels, dtype=torch.float64)
    prior = torch.as_tensor(saved).detach().double().cpu().flatten()
    if len(prior) != model.num_labels or not (prior >= 0).all() or prior.sum() <= 0:
        raise UsageError(f"the checkpoint's label_prior {saved!r} does not fit its labels {model.labels}")
    return prior / prior.sum()


def position_log_probs(
    model: Samplable, x: Tensor, y: Tensor, label: Tensor | None = None, temperature: float = 1.0
) -> Tensor:
    """``log p(y[:, t] | x[:, :t + 1], label)`` at every position ``(n, T)``, 0 at the padding (``y == PAD``).

    Float32 also under a bf16 model, as the loss is taken.
    """
    logits = model.word_logits(x, label).float()
    log_probs = F.log_softmax(logits / temperature, dim=-1).gather(2, y.clamp_min(0)[:, :, None])[:, :, 0]
    return log_probs.masked_fill(y == PAD, 0.0)


def label_weights(model: Samplable, prefix: list[int], temperature: float, prefix_text: str) -> Tensor:
    """p(label | prefix) ∝ p(label) p(prefix | label): the label of a word drawn from the prior, given its prefix.

    Drawing the label from it, then the rest of the word given both, draws (label, word) from the
    prior times the model restricted to the prefix; the prefix's own mass then differs by label
    and could not be left out of the acceptance otherwise.
    """
    weights = label_prior(model)
    if prefix:
        x = torch.tensor([[0, *prefix[:-1]]] * model.num_labels, device=model.device)
        y = torch.tensor([prefix] * model.num_labels, device=model.device)
        labels = torch.arange(model.num_labels, device=model.device)
        weights *= position_log_probs(model, x, y, labels, temperature).sum(1).double().cpu().exp()
    if not weights.sum() > 0:
        raise UsageError(f"--sampling.prefix {prefix_text!r}: no label gives it any probability")
    return weights / weights.sum()
