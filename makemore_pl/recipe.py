"""The fine-tuning recipe that ``fit --init_from`` follows by default: ``--finetune.*`` options.

Starting a small list from names.txt's weights, as they are, loses to training from scratch on
lists unlike names (docs/finetune.md): the network starts ahead, then stops improving early and
overfits the few words. The recipe, each part an option, measured in docs/finetune.md:

- **shrink and perturb** (Ash and Adams 2020, "On Warm-Starting Neural Network Training"): every
  weight starts at ``shrink * checkpoint + perturb * fresh``, where ``fresh`` is the model's own
  fresh initialisation (so the noise has each layer's own scale). How much to keep depends on the
  list's size: a small list keeps half of the checkpoint (``0.5 * checkpoint + 0.1 * fresh``), too
  few words to learn much of its own; from ``large_list`` training words on, a list keeps a tenth
  (``0.1 * checkpoint + 0.9 * fresh``): it has words enough to learn its own letter sequences, and on
  words unlike names (dictionary words) what the checkpoint's recurrent weights hold is a handicap.
  Measured, keeping a tenth is the better start on average from there on, though a list much like
  names gains more from half at any size (docs/finetune.md, the fourth round);
- **new characters' output bias from their frequency** in the new list's training words, on the
  scale of the known biases (``set_frequency_bias``), instead of the lowest known bias;
- **an accented letter's rows from its base letter's** (é, è, ê from e; ``copy_base_rows``), off by
  default: measured, it gains 0.010 on 800 French words and loses 0.022 on 200;
- **staying near the checkpoint** (L2-SP, Li et al. 2018, "Explicit Inductive Bias for Transfer
  Learning with Convolutional Networks"): a pull towards the checkpoint's weights, in place of the
  optimizer's weight decay towards zero (``makemore_pl.callbacks.stay_near``). On 200 words this is
  what turns a loss into a win: the network cannot overfit the list by forgetting names.txt;
- **stopping on the validation curve** (off by default): Lightning's ``EarlyStopping`` on ``val/nll``
  with a patience. It saves time, not nats: the config's best-``val/nll`` checkpoint is the one to test.

``shrink 1, perturb 0, new_char_bias lowest, new_char_rows mean, stay_near 0`` is plain warm-starting.
The options act on ``fit --init_from`` only: ``test``, ``validate`` and ``predict --init_from`` read the checkpoint's
weights unchanged.
"""

from __future__ import annotations

import math
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any, TypeGuard

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping
from torch import Tensor, nn

from makemore_pl import finetune
from makemore_pl.callbacks.stay_near import StayNear
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.models.embedding import TokenEmbedding

# (shrink, perturb) by the list's size, measured in docs/finetune.md: below LARGE_LIST training words a list
# keeps half of the checkpoint, from there on a tenth. The break was chosen on lists of their own (the
# validation splits of scripts/finetune_lists.py's development kinds), not on the lists the goal is measured on.
SMALL_LIST_START = (0.5, 0.1)
LARGE_LIST_START = (0.1, 0.9)
LARGE_LIST = 500


@dataclass
class FineTuning:
    """How ``fit --init_from`` starts from the checkpoint and trains on the new list.

    Args:
        shrink: Each weight starts at ``shrink`` times the checkpoint's (1: the checkpoint's as they are);
            null: by the list's size, 0.5 below ``large_list`` training words and 0.1 from there on.
        perturb: Plus ``perturb`` times the model's fresh initialisation of that weight (0: no noise);
            null: by the list's size, 0.1 below ``large_list`` training words and 0.9 from there on.
        large_list: Training words (the list's training split) from which a null ``shrink`` and ``perturb``
            keep a tenth of the checkpoint rather than half.
        new_char_bias: A new character's output bias: ``frequency``, the log of its frequency in the new
            training words, on the known biases' scale; ``lowest``, the lowest known bias.
        new_char_rows: A new character's embedding and output rows: ``mean``, the known rows' mean; ``base``,
            those of the known letter it is written on (é, è, ê from e; ç from c: Unicode's decomposition),
            else the mean (on 200 French words it loses to ``mean``: docs/finetune.md).
        stay_near: Weight of the pull towards the checkpoint's weights (L2-SP), in training words: each step
            pulls ``lr * stay_near / training words`` of the way back, so a longer list, whose own evidence
            weighs more, is held less. It replaces the optimizer's weight decay towards zero; 0: that decay.
        patience: Stop after this many validations without a better ``val/nll`` (null: run the budget).
    """

    shrink: float | None = None
    perturb: float | None = None
    large_list: int = LARGE_LIST
    # Plain strings, checked below: a value that a Literal refuses would get jsonargparse's usage text.
    new_char_bias: str = "frequency"
    new_char_rows: str = "mean"
    stay_near: float = 480.0
    patience: int | None = None

    def __post_init__(self) -> None:
        if self.shrink is not None and not 0 < self.shrink <= 1:
            raise UsageError(f"--finetune.shrink must be in (0, 1] (null: by the list's size), got {self.shrink}")
        if self.large_list < 1:
            raise UsageError(f"--finetune.large_list must be at least 1, got {self.large_list}")
        for name in ("perturb", "stay_near"):
            if (getattr(self, name) or 0) < 0:
                raise UsageError(f"--finetune.{name} must be at least 0, got {getattr(self, name)}")
        for name, allowed in (("new_char_bias", ("frequency", "lowest")), ("new_char_rows", ("mean", "base"))):
            if getattr(self, name) not in allowed:
                raise UsageError(f"--finetune.{name} must be {' or '.join(allowed)}, got {getattr(self, name)}")
        if self.patience is not None and self.patience < 1:
            raise UsageError(f"--finetune.patience must be at least 1 (or null), got {self.patience}")

    def start_weights(self, words: int) -> tuple[float, float]:
        """(shrink, perturb) for a list of ``words`` training words: the options, or by the list's size."""
        by_size = SMALL_LIST_START if words < self.large_list else LARGE_LIST_START
        shrink = by_size[0] if self.shrink is None else self.shrink
        perturb = by_size[1] if self.perturb is None else self.perturb
        return shrink, perturb


def start(
    model: LanguageModel, trainer: L.Trainer, saved: dict[str, Any], path: str, data: Any, recipe: FineTuning
) -> None:
    """Start ``model`` from checkpoint ``saved`` by ``recipe``, and give ``trainer`` the recipe's callbacks.

    A fine-tuned run resumed from its own checkpoint (``fit --ckpt_path``, its config naming ``init_from``)
    goes through here too: the callbacks come back (their state from the run's checkpoint), the pull
    goes on towards the same grown checkpoint, and Lightning then restores the run's own weights.
    """
    fresh = {name: p.detach().clone() for name, p in model.named_parameters()}
    finetune.start_from(model, saved, path, data)
    old_vocab = list(saved["vocab"])
    new = [i for i, token in enumerate(model.itos) if i > 0 and token not in old_vocab[1:]]
    report_growth(model.itos, new, path)
    if recipe.new_char_rows == "base" and new:
        copy_base_rows(model, new, old_vocab)
    if recipe.new_char_bias == "frequency" and new:
        set_frequency_bias(model, new, data.train_words)
    reference = {name: p.detach().clone() for name, p in model.named_parameters()}
    words = len(data.train_words)
    shrink, perturb = recipe.start_weights(words)
    print(
        f"--init_from {path}: each weight starts at {shrink:g} x the checkpoint's + {perturb:g} x a fresh one "
        f"({words} training words; --finetune.shrink, --finetune.perturb, --finetune.large_list {recipe.large_list})",
        file=sys.stderr,
    )
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.mul_(shrink).add_(fresh[name], alpha=perturb)
    add_callbacks(trainer, recipe, reference, words)


def add_callbacks(trainer: L.Trainer, recipe: FineTuning, reference: dict[str, Tensor], words: int) -> None:
    if recipe.stay_near > 0:
        # A prior worth stay_near words, against the list's own: its weight per step falls as the list grows.
        trainer.callbacks.append(StayNear(reference, recipe.stay_near / max(words, 1)))
    if recipe.patience is not None and not any(isinstance(c, EarlyStopping) for c in trainer.callbacks):
        # Not strict: a run without validation words (--data.val_fraction 0) has no curve to stop on.
        trainer.callbacks.append(EarlyStopping(monitor="val/nll", mode="min", patience=recipe.patience, strict=False))


def report_growth(itos: list[str], new: list[int], path: str) -> None:
    """One line on stderr: how many characters the vocabulary grew by, and which."""
    if new:
        grown = " ".join(itos[i] for i in new)
        print(
            f"--init_from {path}: the vocabulary grew by {len(new)} character{'s' * (len(new) != 1)} ({grown}), "
            f"{len(itos) - len(new)} -> {len(itos)} tokens",
            file=sys.stderr,
        )
    else:
        print(f"--init_from {path}: the vocabulary grew by 0 characters ({len(itos)} tokens)", file=sys.stderr)


def base_letter(char: str, known: list[str]) -> str | None:
    """The known character that ``char`` is written on (é -> e, ç -> c, Å -> A), or None."""
    base = unicodedata.normalize("NFD", char)[0]
    return base if base != char and base in known else None


def copy_base_rows(model: LanguageModel, new: list[int], old_vocab: list[str]) -> None:
    """New characters' rows of every character table (embedding, output layer's weight) from their base letter's.

    An accented letter is mostly read and predicted where its base letter is (é where e is): its rows
    start from that knowledge instead of an average character's. The output bias is left to ``new_char_bias``.
    """
    pairs = [(i, model.itos.index(b)) for i in new if (b := base_letter(model.itos[i], old_vocab[1:])) is not None]
    if not pairs:
        return
    rows, bases = torch.tensor([i for i, _ in pairs]), torch.tensor([b for _, b in pairs])
    for module in model.modules():
        # The character embedding (not its label or a position table) and the output layer: a character's rows.
        if isinstance(module, TokenEmbedding) or is_output_layer(module, model.vocab_size):
            with torch.no_grad():
                module.weight[rows.to(module.weight.device)] = module.weight[bases.to(module.weight.device)]


def is_output_layer(module: nn.Module, vocab_size: int) -> TypeGuard[nn.Linear]:
    """A linear layer that gives one logit per token."""
    return isinstance(module, nn.Linear) and module.out_features == vocab_size


def unigram_log_frequency(words: list[str], itos: list[str]) -> Tensor:
    """log p(token) of the next-token targets of ``words``: their characters and one boundary each (-inf if absent)."""
    counts = Counter("".join(words))
    counts[itos[0]] = len(words)  # the boundary ends every word (a list using its symbol gets another one)
    total = sum(counts[t] for t in itos)
    return torch.tensor([math.log(counts[t] / total) if counts[t] else -math.inf for t in itos])


def set_frequency_bias(model: LanguageModel, new: list[int], words: list[str]) -> None:
    """New characters' output biases at their log frequency in ``words``, shifted to the known biases' scale.

    The shift is the mean of ``bias - log frequency`` over the known tokens that ``words`` hold, so a new
    character as frequent as a known one starts with about its bias.
    """
    log_freq = unigram_log_frequency(words, model.itos)
    new_mask = torch.zeros(model.vocab_size, dtype=torch.bool)
    new_mask[new] = True
    for module in model.modules():
        if not is_output_layer(module, model.vocab_size) or module.bias is None:
            continue
        bias = module.bias.detach()
        known = ~new_mask & torch.isfinite(log_freq)
        if not known.any():
            continue
        shift = (bias.cpu()[known] - log_freq[known]).mean()
        lowest = bias[~new_mask].min().cpu()
        values = torch.where(torch.isfinite(log_freq), log_freq + shift, lowest)
        with torch.no_grad():
            module.bias[new_mask] = values[new_mask].to(bias)
