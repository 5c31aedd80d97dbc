"""The character embeddings: the table in TensorBoard's Projector, and lecture 2's picture when it is 2-D."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from torch import Tensor, nn

from makemore_pl.plots.charts import embedding_chart
from makemore_pl.plots.figures import save_png

if TYPE_CHECKING:  # drawing needs only the model's modules and vocabulary; plots/ sits below models/
    from makemore_pl.models.base import LanguageModel


def character_table(pl_module: LanguageModel) -> tuple[str, Tensor] | None:
    """The model's character embedding and its name: its first ``nn.Embedding`` with a row per token.

    Every network of the series embeds the characters before anything else (a position table,
    where there is one, comes after it); an n-gram's ``W`` is a table of logits, not an embedding.
    """
    for name, module in pl_module.named_modules():
        if isinstance(module, nn.Embedding) and module.num_embeddings == pl_module.vocab_size:
            return name, module.weight.detach().float().cpu()
    return None


def visible(token: str) -> str:
    """A token as a label that TensorBoard's metadata file and a picture can show: ``\\n`` and spaces made visible."""
    return repr(token)[1:-1].replace(" ", "␣")


def log_embeddings(writer, pl_module: LanguageModel, log_dir: str | Path, step: int) -> None:
    """Log the character table to the Projector with the characters as labels; picture it when 2-D.

    The picture goes to TensorBoard as the image ``embedding`` and to embedding.png in ``log_dir``.
    """
    found = character_table(pl_module)
    if found is None:
        return
    name, table = found
    labels = [visible(token) for token in pl_module.itos]
    writer.add_embedding(table, metadata=labels, tag=name, global_step=step)
    if table.shape[1] == 2:
        image = embedding_chart(table.numpy(), labels, f"character embedding {name}, step {step}")
        writer.add_image("embedding", image, step, dataformats="HWC")
        save_png(image, Path(log_dir) / "embedding.png")
