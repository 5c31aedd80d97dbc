"""Running text as a LightningDataModule: one file, a contiguous split, random windows to train on."""

from __future__ import annotations

import math
import sys
from functools import cached_property
from pathlib import Path

import lightning as L
import yaml

from makemore_pl.data.files import download
from makemore_pl.data.records import COUNTED, WORDS, Shard, evaluation_limit
from makemore_pl.data.tokens import TokenFile, encode_file
from makemore_pl.data.windows import CountedText, EvalText, Span, TrainWindows
from makemore_pl.errors import UsageError
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.sampling.text_options import ContinuationRequest, OneRequest

SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_NAME = "tinyshakespeare.txt"


class TextDataModule(L.LightningDataModule):
    # Linked to the model's ``text``: its vocabulary is a document's characters, with no word boundary.
    text = True
    labels = None

    def __init__(
        self,
        path: str = f"data/{SHAKESPEARE_NAME}",
        block_size: int = 64,
        context: int = 3,
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
        batch_size: int | None = 12,
        eval_batch_size: int = 64,
        seed: int = 1337,
        num_samples: int = 20,
        encoding: str = "utf-8",
        cache_dir: str | None = None,
        url: str | None = SHAKESPEARE_URL,
        sha256: str | None = SHAKESPEARE_SHA256,
    ) -> None:
        """One text file, read as running text: newlines are characters like any other.

        Args:
            path: The text file. It is encoded once to a token file in ``cache_dir``, which later
                runs reuse until the file changes.
            block_size: Characters a sequence model reads at once (its context); a training window is
                ``block_size + 1`` characters. Linked to the model.
            context: Previous characters a window model or an n-gram reads; linked to the model.
            val_fraction: Share of the text, taken before the test tail, held out for validation:
                the last 10% by default, as nanoGPT's split.
            test_fraction: Share of the text at its end held out for testing (0: no test split).
            batch_size: Windows per training step; null (n-gram models only) trains on the counted
                (context, next) pairs of the whole training text at every step.
            eval_batch_size: Windows per validation and test batch (a window model: characters).
                Validation is exact however it is cut: every held-out character is predicted once.
            seed: Seed of the training windows (each process and each batch draws its own).
            num_samples: The default of --sampling.num_samples (word models); `predict` on text writes one
                continuation of --sampling.length characters.
            encoding: The file's text encoding.
            cache_dir: Where token files are kept; null: ``$XDG_CACHE_HOME/makemore-pl/tokens``.
            url: Where `prepare_data` downloads the file from when it is missing and named
                tinyshakespeare.txt or as the url's file; null never downloads.
            sha256: Expected SHA-256 of the download; null skips the check.
        """
        super().__init__()
        self.save_hyperparameters()
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= value < 1:
                raise UsageError(f"--data.{name} must be in [0, 1), got {value}")
        if val_fraction + test_fraction >= 1:
            raise UsageError(
                "--data.val_fraction + --data.test_fraction must leave text to train on, got "
                f"{val_fraction} + {test_fraction}"
            )
        for name, value in (("block_size", block_size), ("context", context), ("eval_batch_size", eval_batch_size)):
            if value < 1:
                raise UsageError(f"--data.{name} must be at least 1, got {value}")
        if batch_size is not None and batch_size < 1:
            raise UsageError(
                f"--data.batch_size must be at least 1 (or null for n-grams' full batch), got {batch_size}"
            )
        self.path = Path(path)
        self.block_size, self.context = block_size, context
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.seed, self.num_samples = seed, num_samples
        # What predict samples: the command line's --sampling group (cli.trainer.MakemoreCLI) replaces it.
        self.sampling = SamplingOptions(num_samples=num_samples)
        self.encoding, self.cache_dir, self.url, self.sha256 = encoding, cache_dir, url, sha256

    def prepare_data(self) -> None:
        if self.path.exists() or self.url is None:
            return
        if self.trainer is not None and self.trainer.predicting:
            return  # sampling needs only the model
        if self.path.name not in (SHAKESPEARE_NAME, Path(self.url).name):
            return  # a file of the user's own: never replace it with a download
        print(f"makemore-pl: downloading {self.url} to {self.path}", file=sys.stderr)
        download(self.url, self.path, self.sha256)

    @cached_property
    def token_file(self) -> TokenFile:
        self.prepare_data()
        return encode_file(self.path, self.encoding, self.cache_dir)

    @property
    def vocab(self) -> list[str]:
        """The sorted characters of the whole file, known from construction on, so the CLI can link them.

        A file too short to split is refused here, before a model is built from its characters.
        """
        self.bounds  # noqa: B018
        return self.token_file.vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def has_file(self) -> bool:
        return self.path.is_file()

    @property
    def layout(self) -> str:
        model = self.trainer.lightning_module if self.trainer is not None else None
        return getattr(model, "layout", WORDS)

    @cached_property
    def bounds(self) -> dict[str, tuple[int, int]]:
        """Each split's characters ``[start, end)``: the train head, then val, then the test tail (nanoGPT's cut)."""
        n = self.token_file.length
        train_end = int(n * (1 - self.val_fraction - self.test_fraction))
        test_start = int(n * (1 - self.test_fraction))
        splits = {"train": (0, train_end), "val": (train_end, test_start), "test": (test_start, n)}
        width = self.window_width
        short = {name: end - start for name, (start, end) in splits.items() if end - start < width}
        short = {name: size for name, size in short.items() if name == "train" or self._fraction(name) > 0}
        if short:
            name, size = next(iter(short.items()))
            raise UsageError(
                f"{self.path} holds {n:,} characters: its {name} split has {size:,}, fewer than one window of "
                f"{width} characters (--data.block_size {self.block_size} + 1); it needs at least "
                f"{self._needed(width):,} characters, or a smaller --data.block_size"
            )
        return splits

    @property
    def window_width(self) -> int:
        return self.block_size + 1

    def _fraction(self, split: str) -> float:
        return {"val": self.val_fraction, "test": self.test_fraction}.get(
            split, 1 - self.val_fraction - self.test_fraction
        )

    def _needed(self, width: int) -> int:
        """The shortest text whose every split (of a non-zero fraction) holds a window of ``width``."""
        fractions = [
            f for f in (1 - self.val_fraction - self.test_fraction, self.val_fraction, self.test_fraction) if f > 0
        ]
        return math.ceil(width / min(fractions)) + 1

    def setup(self, stage: str | None = None) -> None:
        if stage != "predict":
            self.bounds  # noqa: B018 (a short file is refused before any loop starts)

    def _span(self, split: str) -> Span:
        start, end = self.bounds[split]
        return Span(self.token_file.tokens, start, end, self.block_size, self.layout, self.context)

    def _batches_done(self) -> int:
        trainer = self.trainer
        return 0 if trainer is None else trainer.global_step * trainer.accumulate_grad_batches

    def train_dataloader(self) -> TrainWindows | CountedText:
        span = self._span("train")
        if self.batch_size is None:
            if span.layout != COUNTED:
                raise UsageError(
                    "--data.batch_size null (the whole text at every step) is for n-gram models; give windows per step"
                )
            return CountedText(span, Shard.of(self.trainer))
        return TrainWindows(span, self.batch_size, self.seed, self._batches_done, Shard.of(self.trainer))

    def _evaluation(self, split: str) -> EvalText | list:
        span = self._span(split)
        if span.length <= 0:
            return []
        return EvalText(span, self.eval_batch_size, Shard.of(self.trainer), evaluation_limit(self.trainer, split))

    def val_dataloader(self) -> EvalText | list:
        return self._evaluation("val")

    def test_dataloader(self) -> EvalText | list:
        return self._evaluation("test")

    def predict_dataloader(self) -> OneRequest:
        # Every process gets the request, and the first writes it (``TextWriter``).
        return OneRequest(ContinuationRequest.from_options(self.sampling))


def names_text_data(args: list[str] | dict) -> bool:
    """Whether the command's configs or options name ``TextDataModule`` as ``data``'s class (the last one wins).

    The CLI reads words unless told otherwise: a config's ``data: class_path: makemore_pl.TextDataModule``
    (configs/text/, and every text run's saved config.yaml) or ``--data.class_path`` on the command line.
    """
    if isinstance(args, dict):
        return is_text_class((args.get("data") or {}).get("class_path") if isinstance(args.get("data"), dict) else None)
    found = None
    for i, arg in enumerate(args):
        value = args[i + 1] if i + 1 < len(args) else None
        if arg.startswith("--config="):
            arg, value = arg.split("=", 1)
        if arg in ("--config", "-c") and value is not None:
            try:  # a file, or the config itself (runs.complete_arguments adds a checkpoint's as JSON)
                inline = value.lstrip().startswith("{")
                config = yaml.safe_load(value if inline else Path(value).read_text())
            except (OSError, yaml.YAMLError):
                continue  # jsonargparse words that error
            data = config.get("data") if isinstance(config, dict) else None
            if isinstance(data, dict) and "class_path" in data:
                found = data["class_path"]
        elif arg in ("--data.class_path", "--data") and value is not None:
            found = value
        elif arg.startswith(("--data.class_path=", "--data=")):
            found = arg.split("=", 1)[1]
    return is_text_class(found)


def is_text_class(class_path: str | None) -> bool:
    """Whether ``class_path`` names ``TextDataModule`` (by any of its import paths)."""
    return isinstance(class_path, str) and class_path.rsplit(".", 1)[-1] == TextDataModule.__name__
