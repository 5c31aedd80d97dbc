"""The `makemore-pl` command: LightningCLI with fit, validate, test and predict."""

from __future__ import annotations

import pickle
import sys
import warnings
from typing import NoReturn

from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from makemore_pl.counts import CountNGram
from makemore_pl.data import WordsDataModule
from makemore_pl.errors import UsageError
from makemore_pl.model import NGramModel
from makemore_pl.writer import SampleWriter

DESCRIPTION = (
    "makemore-pl: train, evaluate and sample Karpathy's makemore character-level language models "
    "(the lecture's bigram and its n-gram and counting cousins) with PyTorch Lightning."
)


class MakemoreCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The data decides the vocabulary and the context; the model follows.
        parser.link_arguments("data.vocab", "model.init_args.vocab", apply_on="instantiate")
        parser.link_arguments("data.context", "model.init_args.context", apply_on="instantiate")

    def before_fit(self) -> None:
        if isinstance(self.model, CountNGram) and self.trainer.world_size > 1:
            # DDP synchronises gradients and refuses a model without parameters; counting
            # names.txt takes milliseconds on one process anyway.
            raise UsageError(
                f"CountNGram counts on one process; got {self.trainer.world_size} (set --trainer.devices 1 "
                "--trainer.num_nodes 1)"
            )

    def before_predict(self) -> None:
        # Without a writer, predict's samples would be computed and thrown away.
        if not any(isinstance(c, SampleWriter) for c in self.trainer.callbacks):
            self.trainer.callbacks.append(SampleWriter())
        self._quiet_checkpoint_restore()

    def before_test(self) -> None:
        self._quiet_checkpoint_restore()

    def before_validate(self) -> None:
        self._quiet_checkpoint_restore()

    @staticmethod
    def _quiet_checkpoint_restore() -> None:
        # Evaluating from a checkpoint writes no checkpoints, so ModelCheckpoint's warning that
        # this run's folder differs from the checkpoint's is no news here (it is, and stays, for fit).
        warnings.filterwarnings("ignore", message="The dirpath has changed from")


def _silence_false_alarms() -> None:
    # Our predict loader yields index tensors, not a DataLoader with a sampler: there are no
    # batch indices to infer, and SampleWriter does not need them.
    warnings.filterwarnings("ignore", message="Couldn't infer the batch indices")
    # Raised inside Lightning on newer torch; nothing a user of makemore-pl can act on.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # CountNGram learns by counting: running with no optimizer is the point.
    warnings.filterwarnings("ignore", message="`LightningModule.configure_optimizers` returned `None`")


def run_cli(cli_class: type[MakemoreCLI], args: ArgsType = None, **kwargs) -> MakemoreCLI:
    """Build ``cli_class`` for makemore-pl's model and data, turning a UsageError into one line on stderr."""
    _silence_false_alarms()
    try:
        return cli_class(
            NGramModel,
            WordsDataModule,
            subclass_mode_model=True,
            save_config_kwargs={"overwrite": True},
            # The optimizer is the model's own option (--model.optimizer), so no second, top-level one.
            auto_configure_optimizers=False,
            parser_kwargs={"description": DESCRIPTION},
            args=args,
            **kwargs,
        )
    except pickle.UnpicklingError:
        # torch.load(weights_only=True) met pickled objects, which could run code: refuse them.
        _fail("refusing to load the checkpoint: it holds pickled objects, not only weights and plain values")
    except Exception as e:
        usage_error = _find_usage_error(e)
        if usage_error is None:
            raise
        _fail(str(usage_error))


def _fail(message: str) -> NoReturn:
    print(f"makemore-pl: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def cli_main(args: ArgsType = None) -> None:
    """Entry point of `makemore-pl`; tests call it in-process with a list of arguments."""
    run_cli(MakemoreCLI, args)


def _find_usage_error(error: BaseException | None) -> UsageError | None:
    """The UsageError behind ``error``: jsonargparse and Lightning re-raise it wrapped in their own errors."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UsageError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


if __name__ == "__main__":
    cli_main()
