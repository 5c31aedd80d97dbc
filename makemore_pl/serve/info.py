"""What ``GET /info`` says about the served checkpoint: the model, its vocabulary and labels, and its training."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from makemore_pl.checkpoints import read_checkpoint
from makemore_pl.models.base import LanguageModel
from makemore_pl.sampling.options import SamplingOptions, field_help


def model_info(ckpt_path: str | Path, model: LanguageModel) -> dict[str, Any]:
    """The checkpoint's model (class, parameters, vocabulary, labels), the sampling options and training figures."""
    saved = read_checkpoint(ckpt_path)
    defaults = asdict(SamplingOptions())
    return {
        "checkpoint": Path(ckpt_path).name,  # its name only: where it lies is the server's business
        "class": type(model).__name__,
        "text": model.text,  # a model of running text: POST /generate continues a prompt
        # Buffers too: a count table is the whole of a CountNGram, which has no parameters.
        "parameters": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for b in model.buffers()),
        # A words model's token 0 is the boundary between words; running text's is a character like the others.
        "vocabulary": model.itos if model.text else model.itos[1:],
        "boundary": None if model.text else model.itos[0],
        "labels": getattr(model, "labels", None),
        "longest_word": model.longest_sample(defaults["max_length"]),
        "defaults": defaults,
        "options": field_help(),  # each sampling option's help, for the page's form
        "training": training_figures(saved),
    }


def training_figures(saved: dict[str, Any]) -> dict[str, Any]:
    """Steps and epochs trained, and the best ``val/nll`` that the run's ModelCheckpoint kept, if it kept one."""
    epochs = saved.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("total", {}).get("processed")
    figures: dict[str, Any] = {"global_step": int(saved.get("global_step", 0)), "epochs": epochs}
    for state in saved.get("callbacks", {}).values():
        # Lightning keys a ModelCheckpoint's state by its settings; the state itself names the monitor.
        if isinstance(state, dict) and state.get("monitor") == "val/nll" and state.get("best_model_score") is not None:
            figures["best_val_nll"] = round(float(state["best_model_score"]), 4)
    return figures
