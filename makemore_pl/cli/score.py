"""`makemore-pl score --ckpt_path <ckpt>`: a TSV line of the model's verdict for each word given.

The words come from ``--words a,b,c``, from ``--file`` (one per line) or from stdin. The output
starts with a header line naming the columns (``--header false`` leaves it out):

    word  nll  nats_per_char  perplexity  [in_train]  [label  p(<label>) ...]  [surprisal]

``in_train`` (true/false) when the run's words file is there to say which words it trained on;
``label`` and one ``p(<label>)`` column per label for a labelled model (calibrated: see
``makemore_pl.calibration``), or with ``--top_labels k`` the k most probable labels, best first, as
``label_1 p_1 ... label_k p_k``; with ``--per_char``,
``surprisal``: the nats of each character, then of the end, comma-separated. With ``--label``, the
figures are those of p(word | label). A model of running text scores a text file instead (``score_text``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Literal

from jsonargparse import ArgumentParser

from makemore_pl.calibration import check_top_labels, top_labels
from makemore_pl.checkpoints import load_model, training_words
from makemore_pl.cli.arguments import checkpoint_parser
from makemore_pl.cli.score_text import check_score_options, score_text_main
from makemore_pl.data.files import read_lines
from makemore_pl.errors import UsageError
from makemore_pl.scoring.words import WordScore, score_words, unscorable


def parser() -> ArgumentParser:
    parser = checkpoint_parser(
        "score",
        "Score words under a trained model: each word's NLL in nats, nats per character (over its "
        "characters and its end) and perplexity, whether it is a training word, and for a labelled model the "
        "most likely label and the posterior over labels. One TSV line per word on stdout.",
    )
    parser.add_argument("--words", type=str | None, default=None, help="The words, comma-separated: a,b,c.")
    parser.add_argument("--file", type=str | None, default=None, help="A file of words, one per line.")
    parser.add_argument("--per_char", action="store_true", help="Add each character's surprisal (and the end's).")
    parser.add_argument(
        "--skip_unknown",
        action="store_true",
        help="Skip a word the model cannot score (a character outside its vocabulary, or too long for its "
        "positions) and count it on stderr, instead of stopping with an error.",
    )
    parser.add_argument(
        "--label",
        type=str | None,
        default=None,
        help="A labelled model's label: score p(word | label) instead of p(word) over all labels (the nll, "
        "nats_per_char, perplexity and surprisal columns; the posterior over labels is unchanged).",
    )
    parser.add_argument(
        "--top_labels", type=int | None, default=None, help="A labelled model: the k most probable labels alone."
    )
    parser.add_argument("--header", type=bool, default=True, help="Start with a line naming the columns.")
    parser.add_argument("--device", type=str, default="cpu", help="Where the model runs: cpu, cuda, mps, cuda:1...")
    parser.add_argument(
        "text_file",
        nargs="?",
        type=str | None,
        default=None,
        help="A model of running text: the text file to score (total NLL, bits per character; --per_char adds "
        "each character's surprisal in bits).",
    )
    parser.add_argument("--encoding", type=str, default="utf-8", help="A model of running text: the file's encoding.")
    parser.add_argument(
        "--reading",
        type=Literal["windows", "sliding"],
        default="windows",
        help="A model of running text: windows reads the file as validation reads held-out text; sliding predicts "
        "each character from the longest context the model reads (docs/text_generation.md).",
    )
    return parser


def read_words(words: str | None, file: str | None) -> tuple[list[tuple[int, str]], str]:
    """The words given, each with its line (or place in ``--words``), and what to call where they came from."""
    if words is not None and file is not None:
        raise UsageError("--words and --file both given: pass one of them (or neither, to read stdin)")
    if words is not None:
        lines, source = words.split(","), "--words, word"
    elif file is not None:
        lines, source = read_lines(file), f"{file}, line"
    else:
        lines, source = sys.stdin.read().splitlines(), "stdin, line"
    numbered = [(number, line.strip()) for number, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise UsageError(f"no words to score in {source.split(',')[0]}")
    return numbered, source


def header(labels: list[str] | None, in_train: bool, per_char: bool, top: int | None = None) -> list[str]:
    columns = ["word", "nll", "nats_per_char", "perplexity"]
    columns += ["in_train"] if in_train else []
    if top:
        columns += [name for i in range(1, top + 1) for name in (f"label_{i}", f"p_{i}")]
    elif labels:
        columns += ["label", *(f"p({label})" for label in labels)]
    return columns + (["surprisal"] if per_char else [])


def row(score: WordScore, top: int | None = None) -> list[str]:
    fields = [score.word, f"{score.nll:.4f}", f"{score.nats_per_char:.4f}", f"{score.perplexity:.3f}"]
    if score.in_train is not None:
        fields.append(str(score.in_train).lower())
    if score.posterior is not None and top:
        fields += [field for label, p in top_labels(score.posterior, top) for field in (label, f"{p:.4f}")]
    elif score.posterior is not None:
        fields += [score.label or "", *(f"{p:.4f}" for p in score.posterior.values())]
    if score.surprisal is not None:
        fields.append(",".join(f"{s:.3f}" for s in score.surprisal))
    return fields


def write_tsv(lines: Iterable[list[str]]) -> None:
    sys.stdout.write("".join("\t".join(fields) + "\n" for fields in lines))
    sys.stdout.flush()


def score_main(args: list[str] | None = None) -> None:
    """Entry point of `makemore-pl score` (dispatched from ``cli.main.COMMANDS``)."""
    config = parser().parse_args(args)
    model = load_model(config.ckpt_path, map_location=config.device)
    check_score_options(config, model.text)
    if model.text:
        return score_text_main(model, config)
    check_top_labels(model, config.top_labels)
    if config.label is not None:
        model.label_ids([config.label], "--label")  # before reading stdin: an unknown label is one line
    numbered, source = read_words(config.words, config.file)
    kept, skipped = [], []
    for number, word in numbered:
        reason = unscorable(model, word)
        if reason is None:
            kept.append(word)
        elif config.skip_unknown:
            skipped.append((number, word, reason))
        else:
            raise UsageError(f"{source} {number}: cannot score {word!r}: {reason} (--skip_unknown skips such words)")
    train_words = training_words(config.ckpt_path)
    scores = score_words(model, kept, train_words, per_char=config.per_char, label=config.label)
    columns = header(model.labels, train_words is not None, config.per_char, config.top_labels)
    write_tsv(([columns] if config.header else []) + [row(score, config.top_labels) for score in scores])
    if skipped:
        number, word, reason = skipped[0]
        print(
            f"makemore-pl score: skipped {len(skipped)} of {len(numbered)} words that the model cannot score; "
            f"the first, {source} {number}: {word!r}: {reason}",
            file=sys.stderr,
        )
