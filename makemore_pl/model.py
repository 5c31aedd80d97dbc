"""What every makemore-pl model shares: a vocabulary, a context, the NLL, evaluation and sampling."""

from __future__ import annotations

import multiprocessing
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from makemore_pl.batches import Batch
from makemore_pl.errors import UsageError
from makemore_pl.guard import FiniteLossGuard
from makemore_pl.sampling import sample_words
from makemore_pl.vocab import Vocabulary

# Rows of a table with more entries than this would not fit in memory: refuse them up front.
MAX_TABLE_ENTRIES = 200_000_000


class NGramModel(L.LightningModule):
    """A model of the next character given the previous ``context`` characters.

    A subclass gives ``logits_table()``: one row of logits per context, ``vocab_size ** context``
    rows of ``vocab_size``. Everything else (the NLL, validation, test, sampling, and the
    vocabulary check of a checkpoint) is the same for every model and lives here.
    """

    def __init__(
        self,
        vocab: list[str],
        context: int = 1,
        temperature: float = 1.0,
        max_length: int = 50,
        sample_seed: int = 2147483647,
    ) -> None:
        super().__init__()
        if context < 1:
            raise UsageError(f"--data.context must be at least 1, got {context}")
        if temperature <= 0:
            raise UsageError(f"--model.temperature must be > 0, got {temperature}")
        if max_length < 1:
            raise UsageError(f"--model.max_length must be at least 1, got {max_length}")
        self.itos = Vocabulary(vocab).itos
        self.vocab_size, self.context = len(vocab), context
        self.num_rows = self.vocab_size**context
        if self.num_rows * self.vocab_size > MAX_TABLE_ENTRIES:
            raise UsageError(
                f"--data.context {context} with {self.vocab_size} tokens needs a table of "
                f"{self.num_rows * self.vocab_size:,} entries; use a smaller context"
            )
        self.temperature, self.max_length, self.sample_seed = temperature, max_length, sample_seed
        # Positional weights that turn a context (oldest character first) into its row number.
        powers = self.vocab_size ** torch.arange(context - 1, -1, -1)
        self.register_buffer("powers", powers, persistent=False)

    def rows(self, x: Tensor) -> Tensor:
        """The row of the table for each context in ``x`` of shape ``(n, context)``."""
        # A sum of products, not x @ powers: CUDA has no integer matrix multiply.
        return (x * self.powers).sum(1) if self.context > 1 else x[:, 0]

    def logits_table(self) -> Tensor:
        raise NotImplementedError

    def logits(self, x: Tensor) -> Tensor:
        # Row indexing: the lecture's one_hot(x) @ W, without building the one-hot.
        return self.logits_table()[self.rows(x)]

    def nll(self, batch: Batch) -> Tensor:
        """Mean negative log likelihood per character: ``sum(count * cross_entropy) / total``, see ``batches``."""
        x, y, count, total = batch
        return (F.cross_entropy(self.logits(x), y, reduction="none") * count).sum() / total

    def _evaluate(self, batch: Batch, stage: str) -> Tensor:
        nll = self.nll(batch)
        # Epoch-level and summed over processes' shares: the exact NLL of the whole split.
        self.log(f"{stage}/nll", nll, on_epoch=True, sync_dist=True, prog_bar=stage == "val", batch_size=1)
        return nll

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._evaluate(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._evaluate(batch, "test")

    @torch.no_grad()
    def probs_table(self) -> Tensor:
        """Next-character probabilities for every context, at the model's temperature."""
        return torch.softmax(self.logits_table().float() / self.temperature, dim=1)

    @torch.no_grad()
    def sample(self, num: int, seed: int | None = None) -> list[str]:
        """Sample ``num`` words; the same seed gives the same words on every device.

        Sampling is sequential and the table is small, so it runs on the CPU explicitly,
        with a CPU generator: no device round trip per character.
        """
        generator = torch.Generator().manual_seed(self.sample_seed if seed is None else seed)
        probs = self.probs_table().cpu()
        return sample_words(probs, self.itos, self.context, num, generator, self.max_length)

    def predict_step(self, batch: Tensor, batch_idx: int) -> list[tuple[int, str]]:
        """Sample the words whose indices are in ``batch``.

        The batch's first index offsets the seed, so processes sharing the work draw
        different words, and one process draws the lecture's words for its seed.
        """
        indices = batch.tolist()
        words = self.sample(len(indices), self.sample_seed + indices[0])
        return list(zip(indices, words))

    def teardown(self, stage: str) -> None:
        # A process started by multiprocessing (ddp_spawn) ends with os._exit, which skips the
        # atexit hook where Lightning destroys the process group; gloo then aborts the process
        # as it exits. Nothing needs the group after teardown, so destroy it here.
        if multiprocessing.parent_process() is not None and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()

    def configure_callbacks(self) -> list[L.Callback]:
        return [FiniteLossGuard()]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["vocab"] = list(self.itos)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint.get("vocab")
        if saved is not None and list(saved) != self.itos:
            raise UsageError(
                "the checkpoint was trained on another vocabulary than the data given now: "
                f"checkpoint {Vocabulary(saved).summary()}; data {Vocabulary(self.itos).summary()}. "
                "Pass the words file it was trained on with --data.path"
            )
