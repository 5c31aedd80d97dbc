"""The training words that a checkpoint keeps, so that it knows them away from its run's folder.

Lightning saves a data module's ``state_dict`` in every checkpoint (under the module's class name)
and gives it back to ``load_state_dict`` when a command starts from one. A word list of up to
``COPY_LIMIT`` bytes keeps the training split's words themselves (names.txt's: about 180 kB); a
longer one keeps its words file's absolute path, resolved at fit time, from which the split is cut
again with the run's options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

COPY_LIMIT = 4 * 2**20
# The key under which Lightning keeps WordsDataModule's state in a checkpoint.
STATE_KEY = "WordsDataModule"


def words_state(train_words: list[str], path: Path) -> dict[str, Any]:
    """What a checkpoint keeps: the training words, one a line, or where their file lies."""
    text = "\n".join(train_words)
    if len(text.encode()) <= COPY_LIMIT:
        return {"train_words": text}
    return {"path": str(path.resolve())}


def copied_words(state: dict[str, Any] | None) -> set[str] | None:
    """The training words that a checkpoint's state holds a copy of; None without a copy."""
    if not state or "train_words" not in state:
        return None
    text = state["train_words"]
    return set(text.split("\n")) if text else set()


def saved_path(state: dict[str, Any] | None) -> Path | None:
    """The absolute path of the words file that a checkpoint's state names, when that file is here."""
    path = Path(state["path"]) if state and "path" in state else None
    return path if path is not None and path.exists() else None
