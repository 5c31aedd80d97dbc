"""INTERIM: what the server needs from generate.py, scoring.py and runs.load_model (CONTRACT.md 4-6).

Until those land, sampling goes through today's ``model.sample`` (temperature, top-k, a prefix,
a length cap) and scoring through a direct NLL. This module goes when they land.
"""

from __future__ import annotations

import math
import pydoc
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from makemore_pl.data.batches import WORDS
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.runs import read_checkpoint, run_folder


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 1.0
    top_k: int | None = None
    prefix: str = ""
    max_length: int = 50
    label: tuple[str, ...] | None = None
    min_length: int = 0
    exclude: str = ""
    suffix: str = ""
    contains: str = ""
    only_new: bool = False
    unique: bool = False
    beam: int | None = None

    @classmethod
    def from_model(cls, model: LanguageModel) -> SamplingOptions:
        return cls(model.temperature, model.top_k, model.prefix, model.max_length)

    def check(self, model: LanguageModel) -> None:
        off = {"label": None, "min_length": 0, "exclude": "", "suffix": "", "contains": "", "only_new": False,
               "unique": False, "beam": None}  # fmt: skip
        later = [name for name, value in off.items() if getattr(self, name) != value]
        if later:
            raise UsageError(f"--model.{later[0]}: not served until makemore_pl.generate lands")
        unknown = sorted(set(self.prefix) - set(model.itos[1:]))
        if unknown:
            raise UsageError(f"--model.prefix {self.prefix!r}: {''.join(unknown)!r} not in the vocabulary")
        if len(self.prefix) >= min(self.max_length, getattr(model, "sample_length", self.max_length)):
            raise UsageError(f"--model.prefix {self.prefix!r} leaves no room under --model.max_length")


@dataclass
class Sampled:
    word: str
    label: str | None
    log_prob: float
    draws: int


@dataclass
class SampleResult:
    words: list[Sampled]
    missing: int
    advice: str | None


def generate(
    model: LanguageModel, requests: list[tuple[int, SamplingOptions, int]], train_words: set[str] | None = None
) -> list[SampleResult]:
    results = []
    for num, options, seed in requests:
        saved = model.temperature, model.top_k, model.prefix, model.max_length
        model.temperature, model.top_k, model.prefix, model.max_length = (
            options.temperature, options.top_k, options.prefix, options.max_length)  # fmt: skip
        try:
            words = model.sample(num, seed)
        finally:
            model.temperature, model.top_k, model.prefix, model.max_length = saved
        scores = score_words(model, words)
        results.append(SampleResult([Sampled(w, None, -s.nll, 1) for w, s in zip(words, scores)], 0, None))
    return results


@dataclass
class WordScore:
    word: str
    nll: float
    nats_per_char: float
    perplexity: float
    in_train: bool | None
    label: str | None
    posterior: dict[str, float] | None
    surprisal: list[float] | None


@torch.no_grad()
def score_words(
    model: LanguageModel, words: list[str], train_words: set[str] | None = None, per_char: bool = False
) -> list[WordScore]:
    for i, word in enumerate(words):
        for j, char in enumerate(word):
            if char not in model.vocabulary.stoi:
                raise UsageError(f"words[{i}] {word!r}: character {char!r} at position {j} is not in the vocabulary")
    was_training = model.training
    model.eval()
    try:
        if model.layout == WORDS:
            length = max(map(len, words)) + 1
            if length > model.block_size and model.position_table:
                raise UsageError(f"a word of {length - 1} characters: the model reads at most {model.block_size - 1}")
            x, y = model.vocabulary.encode_padded(words, length)
            logp = F.log_softmax(model.logits(x.to(model.device)).float(), -1).cpu()
            picked = logp.gather(-1, y.clamp_min(0)[..., None])[..., 0]
            rows = [picked[i, : len(w) + 1].tolist() for i, w in enumerate(words)]
        else:
            x, y = model.vocabulary.encode_words(words, model.context)
            logp = F.log_softmax(model.logits(x.to(model.device)).float(), -1).cpu()
            flat = logp.gather(-1, y[:, None])[:, 0].tolist()
            starts = [0]
            for w in words:
                starts.append(starts[-1] + len(w) + 1)
            rows = [flat[a:b] for a, b in zip(starts, starts[1:])]
    finally:
        model.train(was_training)
    scores = []
    for word, row in zip(words, rows):
        nll = -sum(row)
        per = nll / len(row)
        in_train = None if train_words is None else word in train_words
        surprisal = [-v for v in row] if per_char else None
        scores.append(WordScore(word, nll, per, math.exp(per), in_train, None, None, surprisal))
    return scores


def load_model(ckpt_path: str | Path, map_location: str = "cpu") -> LanguageModel:
    if not Path(ckpt_path).is_file():
        raise UsageError(f"--ckpt_path {ckpt_path}: no such checkpoint file")
    hparams = read_checkpoint(ckpt_path).get("hyper_parameters", {})
    model_class = pydoc.locate(hparams.get("_class_path", ""))
    if not (isinstance(model_class, type) and issubclass(model_class, LanguageModel)):
        raise UsageError(f"--ckpt_path {ckpt_path}: not a makemore-pl model's checkpoint")
    return model_class.load_from_checkpoint(ckpt_path, map_location=map_location, weights_only=True).eval()


def training_words(ckpt_path: str | Path) -> set[str] | None:
    run = run_folder(ckpt_path)
    if run is not None:
        data = (yaml.safe_load((run / "config.yaml").read_text()) or {}).get("data") or {}
    else:
        data = read_checkpoint(ckpt_path).get("datamodule_hyper_parameters", {})
    data = {k: v for k, v in data.items() if k[0] != "_" and v is not None}
    if not data.get("path") or not Path(data["path"]).is_file():
        return None
    return set(WordsDataModule(**{**data, "url": None}).split_words()["train"])
