"""`makemore-pl score --ckpt_path <text ckpt> <file.txt>`: a model of running text scores a text file.

stdout gets one line: the characters predicted, the total NLL in nats, and the mean in nats and in
bits per character (``text_scoring.TextScore.summary``). With ``--per_char``, a TSV table follows:
each predicted character's position, the character (escaped), and its surprisal in bits.
"""

from __future__ import annotations

import sys
from pathlib import Path

from jsonargparse import Namespace

from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.text_scoring import score_text_file

# The options of `score` that only a words model reads, with the values that leave them off.
WORD_ONLY = {"words": None, "file": None, "label": None, "skip_unknown": False, "top_labels": None}


def check_score_options(config: Namespace, text: bool) -> None:
    """One line for an option that does not fit the model: a text file for words, or words for text."""
    if not text:
        if config.text_file is not None:
            raise UsageError(
                f"{config.text_file}: this model scores words (--words, --file or stdin), not a text file; "
                "a model of running text (configs/text/) scores one"
            )
        return
    errors = [
        f"--{name} {getattr(config, name)!r}: a model of running text scores a text file; this option is for "
        "word models only"
        for name, off in WORD_ONLY.items()
        if getattr(config, name) != off
    ]
    if config.text_file is None:
        errors.append(
            "a model of running text scores a text file: give its path, e.g. makemore-pl score "
            "--ckpt_path <ckpt> my.txt"
        )
    if errors:
        raise UsageError("\n".join(errors))


def score_text_main(model: LanguageModel, config: Namespace) -> None:
    """Score ``config.text_file`` under the text model ``model`` and print its summary (and surprisals)."""
    path = Path(config.text_file)
    score = score_text_file(model, path, config.encoding, config.reading, surprisals=config.per_char)
    sys.stdout.write(score.summary(str(path)) + "\n")
    if config.per_char:
        sys.stdout.write(score.surprisal_table(path.read_text(encoding=config.encoding)))
    sys.stdout.flush()
