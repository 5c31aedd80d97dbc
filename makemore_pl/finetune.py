"""Fine-tuning: a new run that starts from a checkpoint's weights, on a vocabulary grown to the new words.

``makemore-pl fit --config <cfg> --init_from <ckpt> --data.path my_list.txt`` builds the model of
the checkpoint (its architecture options win over the config's; a conflicting one on the command
line is refused), on the union of the checkpoint's vocabulary and the new file's characters, loads
the checkpoint's weights into it, and trains with a fresh optimizer, schedule and step count
(unlike ``--ckpt_path``, which resumes a run).

The union is sorted, boundary first, as every vocabulary is: the encoding relies on that order, and
the vocabulary is the same whatever list came first. So a known character may move to another index:
``token_map`` says where each one went, and every table indexed by characters is re-indexed with it:

- embeddings and output rows (``nn.Embedding``, ``nn.Linear``): a known character keeps its row; a
  new character's row is the mean of the known rows, so the layers above read it as an average
  character rather than as noise of another scale; a new output bias is the lowest known bias, so
  the new character starts as unlikely as the rarest known one, and learns from there;
- n-gram tables, ``(V ** context, V)``: the rows are contexts numbered in base V, so each row is
  re-numbered digit by digit in the new base (``context_rows``); a new column (a new next character)
  starts at its row's lowest logit, a new row (a context holding a new character) at the mean of the
  known rows; a count table gives new characters no counts, and the checkpoint's counts stay as the
  prior that the new list's counts add to.

Labels grow the same way (``item_map``): the data's labels are the sorted union of the checkpoint's and
the new list's (``WordsDataModule.known_labels``), so a label the new list lacks stays, and the model
can still sample words of it. A labelled network's label table keeps the rows of the labels
the checkpoint knows, and a new label starts at the mean of the known rows; a labelled n-gram's
per-label tables keep the known labels' and give a new label nothing. A label without words in the
new list gets prior 0 (``label_prior``, estimated again from the training split) and no per-label
metric.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.models.counts import TABLES, CountNGram
from makemore_pl.models.embedding import TokenEmbedding
from makemore_pl.models.network import SequenceModel
from makemore_pl.models.ngram import NGramModel

# Buffers that a fit estimates again from its training split: a fine-tune keeps the model's own.
FIT_STATISTICS = ("label_prior",)


def item_map(old: list[str], new: list[str], what: str = "vocabulary") -> Tensor:
    """Where each of ``old``'s items (characters, labels) went in ``new``, which must hold them all."""
    position = {item: i for i, item in enumerate(new)}
    missing = [item for item in old if item not in position]
    if missing:
        raise UsageError(
            f"the data's {what} lacks {missing!r}, which the checkpoint knows: give --init_from on the command "
            "line, which keeps them"
        )
    return torch.tensor([position[item] for item in old], dtype=torch.long)


def token_map(old: list[str], new: list[str]) -> Tensor:
    """Where each of ``old``'s tokens went in ``new``; token 0 is the boundary in both, whatever its symbol."""
    return torch.cat([torch.zeros(1, dtype=torch.long), item_map(old[1:], new)])


def context_rows(old_to_new: Tensor, new_size: int, context: int) -> Tensor:
    """The new row of every old row of an n-gram table: contexts re-numbered digit by digit in the new base."""
    old_size = len(old_to_new)
    old_rows = torch.arange(old_size**context)
    new_rows = torch.zeros_like(old_rows)
    for place in range(context):  # the oldest character is the most significant digit
        digit = old_rows // old_size ** (context - 1 - place) % old_size
        new_rows += old_to_new[digit] * new_size ** (context - 1 - place)
    return new_rows


def grow_rows(old: Tensor, rows: Tensor, new_size: int, fill: Tensor) -> Tensor:
    """``old``'s rows placed at ``rows`` of a tensor of ``new_size`` rows, the others set to ``fill``."""
    grown = fill.to(old.dtype).expand(new_size, *old.shape[1:]).clone()
    grown[rows] = old
    return grown


def grow_state(
    model: LanguageModel, state: dict[str, Tensor], old_vocab: list[str], old_labels: list[str] | None = None
) -> dict[str, Tensor]:
    """The checkpoint's ``state`` re-indexed from ``old_vocab`` (and ``old_labels``) to ``model``'s, grown.

    A tensor of the model's that the checkpoint lacks (a label table, for a checkpoint without
    labels) stays the model's own; so does a statistic of the training split that the fit estimates
    again (``label_prior``).
    """
    old_to_new = token_map(old_vocab, model.itos)
    labels = None
    if old_labels is not None and model.labels is not None:
        labels = item_map(old_labels, model.labels, "labels")
    target = model.state_dict()
    # The label table of a labelled network: a label the checkpoint knows keeps its row, a new one
    # starts at the mean of the known rows. One that the checkpoint lacks stays the model's own,
    # zero: the network starts as the unlabelled one it was.
    label_tables = {f"{name}.labels.weight" for name, m in model.named_modules() if isinstance(m, TokenEmbedding)}
    rows = {name: (old_to_new, model.vocab_size) for name in target if name not in label_tables}
    if labels is not None:
        rows.update(dict.fromkeys(label_tables, (labels, model.num_labels)))
    modules = dict(model.named_modules())
    grown = dict(target)
    for name, tensor in state.items():
        if name in target and target[name].shape != tensor.shape and name not in FIT_STATISTICS:
            if isinstance(model, NGramModel):
                grown[name] = _grow_table(model, tensor, old_to_new, labels)
                continue
            module = modules.get(name.rsplit(".", 1)[0])
            index, size = rows.get(name, (None, None))
            if index is None or not isinstance(module, (nn.Embedding, nn.Linear)) or len(index) != len(tensor):
                raise UsageError(f"--init_from: cannot grow {name} of shape {tuple(tensor.shape)} to the model's")
            # Rows of an embedding or an output layer: a new character's row is the known rows' mean;
            # its output bias the lowest known, so it starts unlikely (see the module's docstring).
            fill = tensor.min() if tensor.ndim == 1 else tensor.mean(0)
            grown[name] = grow_rows(tensor, index, size, fill)
        elif name not in FIT_STATISTICS:
            grown[name] = tensor
    return grown


def _grow_table(model: NGramModel, table: Tensor, old_to_new: Tensor, labels: Tensor | None) -> Tensor:
    size = model.vocab_size
    rows = context_rows(old_to_new, size, model.context)
    nothing = table.new_zeros(())
    if table.ndim == 3:
        # A labelled n-gram's per-label tables (counts N_l, or deviations D_l from W): a new character
        # or a new label has counted nothing and departs from nothing yet.
        if table.shape[1:] != (model.num_rows, size):
            table = torch.stack(
                [grow_rows(grow_rows(t.T, old_to_new, size, nothing).T, rows, model.num_rows, nothing) for t in table]
            )
        return table if labels is None else grow_rows(table, labels, model.num_labels, nothing)
    if isinstance(model, CountNGram):  # nothing was counted for a new character: it has no counts
        return grow_rows(grow_rows(table.T, old_to_new, size, nothing).T, rows, model.num_rows, nothing)
    # A new next character starts at its row's lowest logit; a context with a new character reads as
    # the mean of the known contexts.
    columns = grow_rows(table.T, old_to_new, size, table.min(1).values).T
    return grow_rows(columns, rows, model.num_rows, columns.mean(0))


def start_from(model: LanguageModel, saved: dict[str, Any], path: str, data: Any) -> None:
    """Load the weights of checkpoint ``saved`` (read from ``path``) into ``model``, re-indexed to its vocabulary."""
    if model.position_table:
        _keep_positions(model, saved["hyper_parameters"].get("block_size", model.block_size), path, data)
    labels = saved["hyper_parameters"].get("labels")
    if labels is not None and model.labels is None:
        raise UsageError(
            f"--init_from {path} is conditioned on labels ({', '.join(labels)}): fine-tune it on labelled words"
        )
    model.load_state_dict(grow_state(model, saved["state_dict"], list(saved["vocab"]), labels))
    if isinstance(model, CountNGram):
        model.prior_counts = {name: table.clone() for name, table in model.named_buffers() if name in TABLES}


def _keep_positions(model: SequenceModel, saved: int, path: str, data: Any) -> None:
    """The checkpoint's position table, whole: the new words must fit in it."""
    if model.block_size > saved:
        longest = max(data.words, key=len)
        raise UsageError(
            f"{data.line_of(longest)}: a word of {len(longest)} characters, longer than the "
            f"{saved - 1} that the position table of --init_from {path} holds; shorten the line, or train from "
            "scratch without --init_from"
        )
    model.use_positions(saved)
