"""Lightning's progress bar, on stderr: stdout carries only what a user may parse, predict's words or test's table."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import redirect_stdout

from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm


def _on_stderr(make_bar: Callable[[], Tqdm]) -> Tqdm:
    # Lightning builds every bar with file=sys.stdout, read when the bar is made: stderr, then.
    with redirect_stdout(sys.stderr):
        return make_bar()


class StderrProgressBar(TQDMProgressBar):
    """Lightning's ``TQDMProgressBar``, drawn on stderr as tqdm does by default, instead of stdout.

    ``makemore-pl predict > names.txt`` then holds only the words, and the table that ``test``
    prints is not interleaved with carriage returns. The CLI puts it in place of Lightning's
    default bar; its options are ``TQDMProgressBar``'s.
    """

    def init_sanity_tqdm(self) -> Tqdm:
        return _on_stderr(super().init_sanity_tqdm)

    def init_train_tqdm(self) -> Tqdm:
        return _on_stderr(super().init_train_tqdm)

    def init_validation_tqdm(self) -> Tqdm:
        return _on_stderr(super().init_validation_tqdm)

    def init_test_tqdm(self) -> Tqdm:
        return _on_stderr(super().init_test_tqdm)

    def init_predict_tqdm(self) -> Tqdm:
        return _on_stderr(super().init_predict_tqdm)
