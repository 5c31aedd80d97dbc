"""The models of the makemore series: a plain ``nn.Module`` network, trained, scheduled and sampled here.

Each family (``mlp``, ``wavenet``, ``bow``, ``recurrent``, ``transformer``) builds its network
from its own documented arguments and subclasses ``WindowModel`` or ``SequenceModel``, which
say what the network reads and how to ask it for the next character.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from makemore_pl.data.records import WINDOWS, WORDS
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.sampling.decoders import Decoder, Windowed, last_window


def adamw(params: Iterable) -> torch.optim.Optimizer:
    """AdamW at lr 1e-3, the configs' usual starting point."""
    return torch.optim.AdamW(params, lr=1e-3)


class NetworkModel(LanguageModel):
    """A language model whose logits come from ``self.network``, trained by gradient descent."""

    network: nn.Module

    def __init__(
        self,
        vocab: list[str],
        optimizer: OptimizerCallable = adamw,
        lr_scheduler: LRSchedulerCallable | None = None,
        compile: bool = False,
        **kwargs: Any,
    ) -> None:
        """
        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            optimizer: The optimizer, as ``class_path``/``init_args``. Its ``weight_decay`` applies to
                weight matrices and embeddings only, not to biases and normalisation gains.
            lr_scheduler: A learning-rate schedule, stepped every training step, as ``class_path``/
                ``init_args``. A schedule with a ``total_steps`` left null (``OneCycleLR``) gets the
                trainer's step budget; ``ReduceLROnPlateau`` watches ``val/nll``.
            compile: Run the network through ``torch.compile`` for training and evaluation (the
                weights and checkpoints are the same either way).
            **kwargs: The labels: see ``LanguageModel``.
        """
        super().__init__(vocab, **kwargs)
        self.optimizer, self.lr_scheduler, self.compile_network = optimizer, lr_scheduler, compile
        self._compiled: Any = None

    def logits(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        return self.run_network(x, label, compiled=self.compile_network)

    def run_network(self, x: Tensor, label: Tensor | None = None, compiled: bool = False) -> Tensor:
        """The network on ``x``; sampling runs it uncompiled, since every length would compile anew."""
        network: Any = self.network
        if compiled:
            if self._compiled is None:
                # Compiled lazily, once in each process. The network's forward function, not the
                # network: a compiled module would join the module tree and rename every weight
                # in the state dict, so checkpoints with and without compile would differ.
                self._compiled = torch.compile(self.network.forward)
            network = self._compiled
        # An unlabelled model calls its network with x alone, so any nn.Module taking x serves.
        return network(x) if label is None else network(x, label)

    def build_network(self) -> nn.Module:
        """The network, from the model's arguments: each family's own architecture."""
        raise NotImplementedError

    def start_probabilities(self, temperature: float = 1.0) -> tuple[Tensor, list[str]]:
        boundary, chars = self.itos[0], range(1, self.vocab_size)
        with self.evaluating():
            first = self.next_logits(torch.zeros(1, 1, dtype=torch.long, device=self.device))
            after = self.next_logits(torch.tensor([[0, c] for c in chars], device=self.device))
        probs = torch.softmax(torch.cat([first, after]).float() / temperature, dim=1)
        return probs, [boundary, *(boundary + self.itos[c] for c in chars)]

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        # Dropout draws from the global generators, which Lightning's checkpoints do not keep: a
        # run resumed without them draws other masks and ends on other weights. Each process
        # has its own (word batches differ in width, and so in draws), so all of them are kept.
        state = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        states = [state]
        if dist.is_available() and dist.is_initialized():  # every process saves: a collective is safe
            states = [None] * dist.get_world_size()
            dist.all_gather_object(states, state)
        checkpoint["rng_states"] = states

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        states = checkpoint.get("rng_states")
        # Only to resume training, and with as many processes: loading a model to test or sample
        # from leaves the caller's generators alone.
        resuming = self._trainer is not None and self.trainer.state.fn == "fit"
        if states is None or not resuming or len(states) != self.trainer.world_size:
            return
        state = states[self.global_rank]
        torch.set_rng_state(state["cpu"])
        if torch.cuda.is_available() and len(state.get("cuda", [])) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])

    def configure_optimizers(self) -> Any:
        # Decay matrices and embeddings, not biases and gains (as nanoGPT does).
        matrices = [p for p in self.parameters() if p.ndim >= 2]
        others = [p for p in self.parameters() if p.ndim < 2]
        optimizer = self.optimizer([{"params": matrices}, {"params": others, "weight_decay": 0.0}])
        if self.lr_scheduler is None:
            return optimizer
        scheduler = self.lr_scheduler(optimizer, **self._schedule_length())
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val/nll"}}
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def _schedule_length(self) -> dict[str, int]:
        # OneCycleLR needs its length in steps; the trainer knows it (max_steps, or max_epochs
        # times the batches of an epoch), so the config need not write it a second time.
        keywords = getattr(self.lr_scheduler, "keywords", {})
        if "total_steps" in keywords and keywords["total_steps"] is None and keywords.get("epochs") is None:
            total = int(self.trainer.estimated_stepping_batches)
            # Its warm-up ends at step pct_start * total - 1; at 0 torch divides by it. A warm-up under
            # one step is none (torch's own reading below that): pct_start 0 starts at max_lr.
            if keywords.get("pct_start", 0.3) * total <= 1:
                return {"total_steps": total, "pct_start": 0.0}
            return {"total_steps": total}
        return {}


class WindowModel(NetworkModel):
    """A network that reads the last ``context`` characters and gives the next one's logits: ``(n, k) -> (n, V)``."""

    layout = WINDOWS

    def __init__(self, vocab: list[str], context: int = 3, **kwargs: Any) -> None:
        """
        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            context: How many previous characters the network reads (the lectures' ``block_size``);
                linked from ``--data.context``.
            **kwargs: Training options and the labels: see ``NetworkModel`` and ``LanguageModel``.
        """
        super().__init__(vocab, **kwargs)
        if context < 1:
            raise UsageError(f"--data.context must be at least 1, got {context}")
        self.context = context

    def setup(self, stage: str) -> None:
        batch_size = getattr(self.trainer.datamodule, "batch_size", None)
        if stage == "fit" and batch_size == 1 and any(isinstance(m, nn.BatchNorm1d) for m in self.network.modules()):
            raise UsageError(
                "--data.batch_size 1: BatchNorm normalises by the statistics of the batch, and needs at least 2 "
                "windows per batch"
            )

    def next_logits(self, tokens: Tensor, label: Tensor | None = None) -> Tensor:
        return self.run_network(last_window(tokens, self.context), label)

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder:
        return Windowed(self.run_network, n, self.context, label, self.device)


class SequenceModel(NetworkModel):
    """A network that reads whole words and gives the logits at every position: ``(n, T) -> (n, T, V)``.

    Position ``t`` must depend on positions ``<= t`` only (tested for every family).
    """

    layout = WORDS
    # A network has a table of block_size positions (BoW, Transformer), unless it reads any length
    # and block_size only caps sampling (the recurrences).
    position_table: ClassVar[bool] = True

    def __init__(self, vocab: list[str], block_size: int = 16, **kwargs: Any) -> None:
        """
        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            block_size: The positions of the longest word (its characters and the boundary before
                them): linked from the data, which knows its longest word.
            **kwargs: Training options and the labels: see ``NetworkModel`` and ``LanguageModel``.
        """
        super().__init__(vocab, **kwargs)
        if block_size < 1:
            raise UsageError(f"block_size must be at least 1, got {block_size}")
        self.block_size = block_size

    def longest_sample(self, max_length: int) -> int:
        # A word of block_size - 1 characters is the longest whose every position the network has seen.
        return min(max_length, self.block_size - 1)

    def next_logits(self, tokens: Tensor, label: Tensor | None = None) -> Tensor:
        return self.run_network(tokens, label)[:, -1]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        saved = checkpoint.get("hyper_parameters", {}).get("block_size", self.block_size)
        if saved < self.block_size and self.position_table:
            raise UsageError(
                f"the data has words of {self.block_size - 1} characters, but the checkpoint's model was trained on "
                f"words of at most {saved - 1}: its network has no positions for the rest. Pass a words file "
                "without longer words with --data.path"
            )
        if saved > self.block_size:
            self.use_positions(saved)

    def use_positions(self, block_size: int) -> None:
        """Rebuild the network for ``block_size`` positions: a checkpoint's, when the data's words are shorter."""
        self.block_size = self.hparams.block_size = block_size
        self.network = self.build_network().to(self.device)
