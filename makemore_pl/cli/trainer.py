"""`makemore-pl fit`, `validate`, `test` and `predict`: LightningCLI, with makemore-pl's model and data."""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, NoReturn

from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from makemore_pl import console, finetune, recipe
from makemore_pl.calibration import label_callbacks
from makemore_pl.callbacks.dashboard import Dashboard
from makemore_pl.callbacks.guard import FiniteLossGuard
from makemore_pl.callbacks.interrupt import SafeInterrupt
from makemore_pl.callbacks.progress import StderrProgressBar
from makemore_pl.callbacks.text_writer import TextWriter
from makemore_pl.callbacks.writer import SampleWriter
from makemore_pl.checkpoints import PICKLED, open_checkpoint, read_checkpoint
from makemore_pl.cli import arguments, run_config
from makemore_pl.cli.parser import OneLineErrors
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.text import TextDataModule, names_text_data
from makemore_pl.errors import UsageError
from makemore_pl.linked import DECIDED
from makemore_pl.models.base import LanguageModel
from makemore_pl.models.counts import CountNGram
from makemore_pl.sampling import legacy
from makemore_pl.sampling.options import SECTION, SamplingOptions


class MakemoreCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The data decides the vocabulary, the context and the longest word; the model follows.
        # A model without one of these arguments (block_size for a window model, context for a
        # sequence model) is simply not given it.
        for key in DECIDED:
            link = partial(self._from_data_or_checkpoint, key=key)
            parser.link_arguments("data", f"model.init_args.{key}", compute_fn=link, apply_on="instantiate")
        context = "data.init_args.context" if self.subclass_mode_data else "data.context"  # text: TextDataModule
        parser.link_arguments(context, "model.init_args.context", apply_on="instantiate")
        # What predict samples, and the Dashboard's samples in fit: a group of its own, never the model's.
        parser.add_class_arguments(SamplingOptions, SECTION, instantiate=False)
        parser.add_argument(
            "--new_version",
            type=bool,
            default=False,
            help="For fit --ckpt_path: start a new version folder from the checkpoint, instead of continuing "
            "its run in the run's own folder. (validate, test and predict always log to a new version.)",
        )
        parser.add_argument(
            "--init_from",
            type=str | None,
            default=None,
            help="Fine-tune: a new run from this checkpoint's weights, with a fresh optimizer, schedule and step "
            "count (--ckpt_path resumes instead). The architecture is the checkpoint's; the vocabulary grows to "
            "the words file's new characters. With test, validate or predict: those weights, unchanged.",
        )
        parser.add_class_arguments(recipe.FineTuning, "finetune")  # how fit --init_from starts and trains

    def _from_data_or_checkpoint(self, data: WordsDataModule, key: str) -> Any:
        # predict samples from the model alone: without the words file, the checkpoint knows the
        # vocabulary and the longest word. (A bound method, not a closure: ddp_spawn pickles the parser.)
        ckpt = self.config.predict.ckpt_path if self.subcommand == "predict" else None
        if ckpt and not data.has_file:
            return read_checkpoint(ckpt)["hyper_parameters"].get(key)
        return getattr(data, key)

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        if isinstance(args, (dict, Namespace)):
            return super().parse_arguments(parser, args)
        # A command naming a checkpoint and no config gets the run's config (arguments.complete_arguments).
        # Parsed here rather than by super(), which warns when args are given beside sys.argv.
        args = list(sys.argv[1:] if args is None else args)
        legacy.refuse_moved(args)
        self.config = parser.parse_args(arguments.complete_arguments(args))

    def _parse_ckpt_path(self) -> None:
        # Lightning applies the checkpoint's hyperparameters over the config; one written before
        # --sampling.* also holds the sampling options, which no model takes now.
        super()._parse_ckpt_path()
        subcommand = self.config.get("subcommand")
        model = self.config[subcommand].get("model") if subcommand else None
        if isinstance(model, Namespace) and isinstance(model.get("dict_kwargs"), dict):
            model.dict_kwargs = legacy.drop_model_keys(model.dict_kwargs)

    def sampling(self) -> SamplingOptions:
        """The command's ``--sampling.*`` options."""
        return SamplingOptions(**vars(self.config[self.subcommand][SECTION]))

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        try:
            return super().instantiate_trainer(**kwargs)
        except (ValueError, MisconfigurationException) as e:  # Lightning's own check of a --trainer.* value
            raise UsageError(f"--trainer: {' '.join(str(e).split())}") from e

    def before_instantiate_classes(self) -> None:
        if self.subcommand == "fit":
            run_config.continue_in_place(self.config.fit)

    def after_instantiate_classes(self) -> None:
        callbacks = self.trainer.callbacks
        # Every command's run stops on a loss that is no longer a number, and at the end of a batch on Ctrl-C.
        callbacks[:0] = [c() for c in (FiniteLossGuard, SafeInterrupt) if not any(isinstance(x, c) for x in callbacks)]
        callbacks += label_callbacks(self.model)  # a labelled model's val/accuracy and calibration
        # Lightning's progress bar draws on stdout, which belongs to predict's words and test's table.
        for i, callback in enumerate(callbacks):
            if type(callback) is TQDMProgressBar:
                callbacks[i] = StderrProgressBar(callback.refresh_rate, callback.process_position)

    def before_fit(self) -> None:
        if isinstance(self.model, CountNGram) and self.trainer.world_size > 1:
            # DDP synchronises gradients and refuses a model without parameters; counting
            # names.txt takes milliseconds on one process anyway.
            raise UsageError(
                f"CountNGram counts on one process; got {self.trainer.world_size} (set --trainer.devices 1 "
                "--trainer.num_nodes 1)"
            )
        if self.datamodule.val_fraction == 0:
            # No validation words (the lecture's configs train on all of them): no validation loop,
            # instead of one over an empty split.
            self.trainer.limit_val_batches = 0
        if self.config.fit.ckpt_path:
            console.quiet_resume(in_place=not self.config.fit.new_version)
        self._start_from_checkpoint()
        for callback in self.trainer.callbacks:
            if isinstance(callback, Dashboard):
                callback.sampling = self.sampling()

    def _start_from_checkpoint(self) -> None:
        config = self.config[self.subcommand]
        if config.init_from and self.subcommand == "fit":
            # Resumed too (--ckpt_path): the recipe's callbacks come back, then Lightning restores the run's weights.
            saved = open_checkpoint(config.init_from, "--init_from")
            options = self.config_init[self.subcommand]["finetune"]
            recipe.start(self.model, self.trainer, saved, config.init_from, self.datamodule, options)
        elif config.init_from and not config.ckpt_path:  # a fine-tuned run's own checkpoint holds its weights
            saved = open_checkpoint(config.init_from, "--init_from")
            finetune.start_from(self.model, saved, config.init_from, self.datamodule)

    def before_predict(self) -> None:
        self._start_from_checkpoint()
        self.datamodule.sampling = self.sampling()
        self.datamodule.sampling.check(self.model)  # before any batch: also a request of no words
        # Without a writer, predict's samples would be computed and thrown away. A model of running
        # text continues a prompt instead of sampling words.
        writer = TextWriter if self.model.text else SampleWriter
        if not any(isinstance(c, writer) for c in self.trainer.callbacks):
            self.trainer.callbacks.append(writer())
        # Sampling is one batch of milliseconds: a bar would only share the terminal with the words.
        if self.trainer.progress_bar_callback is not None:
            self.trainer.progress_bar_callback.disable()
        console.quiet_evaluation()

    def before_test(self) -> None:
        self._evaluating("test_fraction")
        self._start_from_checkpoint()

    def before_validate(self) -> None:
        self._evaluating("val_fraction")
        self._start_from_checkpoint()

    def _evaluating(self, fraction: str) -> None:
        if getattr(self.datamodule, fraction) == 0:
            # Lightning would run the stage on an empty loader, print nothing and warn about it.
            raise UsageError(f"no words held out to evaluate on: --data.{fraction} is 0 (set it above 0)")
        console.quiet_evaluation()


def _argv(args: ArgsType) -> list[str]:
    return [] if isinstance(args, (dict, Namespace)) else list(sys.argv[1:] if args is None else args)


def run_cli(
    cli_class: type[MakemoreCLI], args: ArgsType = None, description: str | None = None, **kwargs
) -> MakemoreCLI:
    """Build ``cli_class`` for makemore-pl's model and data, turning a UsageError into one line on stderr."""
    console.silence_false_alarms()
    try:
        if not isinstance(args, dict):
            legacy.refuse_moved(_argv(args))  # before the checkpoint is read: an old flag is one line
        text = names_text_data(args if isinstance(args, dict) else arguments.complete_arguments(_argv(args)))
        return cli_class(
            LanguageModel,
            TextDataModule if text else WordsDataModule,
            subclass_mode_data=text,  # a text config names its class: data: class_path: makemore_pl.TextDataModule
            subclass_mode_model=True,
            save_config_callback=run_config.RunConfig,
            # The optimizer is the model's own option (--model.optimizer), so no second, top-level one.
            auto_configure_optimizers=False,
            parser_kwargs={"description": description},
            parser_class=OneLineErrors,  # a value it cannot parse is one line naming the option
            args=args,
            **kwargs,
        )
    except pickle.UnpicklingError:
        # torch.load(weights_only=True) met pickled objects, which could run code: refuse them.
        fail(PICKLED)
    except Exception as e:
        usage_error = find_usage_error(e)
        if usage_error is None:
            raise
        fail(str(usage_error))


def fail(message: str, program: str = "makemore-pl") -> NoReturn:
    print(f"{program}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def exit_on_usage_error(program: str, main: Callable[[ArgsType], Any], args: ArgsType = None) -> None:
    """Run ``main(args)`` for the console script ``program``: a UsageError becomes one line on stderr, exit code 2."""
    try:
        main(args)
    except UsageError as e:
        fail(str(e), program)


def find_usage_error(error: BaseException | None) -> UsageError | None:
    """The UsageError behind ``error``: jsonargparse and Lightning re-raise it wrapped in their own errors."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UsageError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
