"""Delivers what `predict` samples, since LightningCLI discards what ``trainer.predict`` returns."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch.distributed as dist
from lightning.pytorch.callbacks import BasePredictionWriter

from makemore_pl.data.files import write_atomic
from makemore_pl.sampling.records import Sampled


class SampleWriter(BasePredictionWriter):
    def __init__(self, filename: str = "samples.tsv", stdout: bool = True) -> None:
        """Print the sampled words to stdout, one per line, and save them in the run's log folder.

        A labelled model's words are printed as ``word<TAB>label``. Each word is marked as new or as
        one of the training words, in the file and in a summary line on stderr, so that stdout holds
        the words alone; stderr also says how many draws each word took (a beam: each word's
        log-probability), and when the budget of draws ran out, how many words are missing and why.

        Args:
            filename: File written in the log folder: a word, its label (labelled models), "new" or
                "train" ("unknown" when the words file is missing), its log-probability and its draws.
            stdout: Also print the words to stdout.
        """
        super().__init__(write_interval="epoch")
        self.filename, self.stdout = filename, stdout

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        if dist.is_available() and dist.is_initialized():
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, predictions)
            predictions = [batch for part in gathered for batch in part]
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        if not trainer.is_global_zero:
            return
        placed = sorted((place, i, s) for i, p in enumerate(predictions) for place, s in zip(p.order, p.words))
        samples: list[Sampled] = [sampled for _, _, sampled in placed]
        words = [s.word for s in samples]
        data = trainer.datamodule
        seen = set() if data is None else data.training_words()
        if seen is not None:
            marks = ["train" if word in seen else "new" for word in words]
            summary = f"{marks.count('new')} new and {marks.count('train')} from the training words"
        else:  # sampled from the checkpoint alone: only the marks need the words file
            marks = ["unknown"] * len(words)
            summary = f"not marked new or train, since the words file {data.path} is missing (--data.path)"
        lines = [s.word if s.label is None else f"{s.word}\t{s.label}" for s in samples]
        path = Path(log_dir or ".") / self.filename
        rows = [f"{line}\t{mark}\t{s.log_prob:.4f}\t{s.draws}\n" for line, mark, s in zip(lines, marks, samples)]
        write_atomic(path, "".join(rows).encode())
        if self.stdout and lines:
            print("\n".join(lines), flush=True)
        print(f"makemore-pl: sampled {len(words)} words, {summary}; saved to {path}", file=sys.stderr)
        if any(p.beam for p in predictions):
            shown = ", ".join(f"{s.word or '(empty)'} {s.log_prob:.3f}" for s in samples)
            print(f"makemore-pl: log-probabilities, best first: {shown}", file=sys.stderr)
        elif samples and any(s.draws != 1 for s in samples):
            print(f"makemore-pl: draws per word: {' '.join(str(s.draws) for s in samples)}", file=sys.stderr)
        missing = sum(p.missing for p in predictions)
        if missing:
            advice = next(p.advice for p in predictions if p.advice)
            print(f"makemore-pl: {missing} of {missing + len(words)} words missing: {advice}", file=sys.stderr)
