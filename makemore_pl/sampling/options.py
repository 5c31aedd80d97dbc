"""The options of one sampling request: ``SamplingOptions``, the ``--sampling.*`` group of the command line.

This dataclass is the one definition of them. The command line's help is each field's own
docstring; the server's request schema, ``/info``, export's metadata and the page's form are
derived from its fields (``field_help``).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, fields
from functools import cache

from makemore_pl.errors import UsageError
from makemore_pl.sampling.protocol import Samplable
from makemore_pl.sampling.text_options import WORD_OPTIONS, check_text_options, encode_text, read_prompt

# The section of the command line that holds the options: ``--sampling.temperature``, ...
SECTION = "sampling"
# The options that only a model of running text reads.
TEXT_OPTIONS = ("prompt", "prompt_file", "length")
# The options of the command line alone: a request to the server never names a file on it.
COMMAND_LINE_ONLY = ("prompt_file",)
# The options beyond temperature, top_k, prefix and max_length: with none of them set, an n-gram
# keeps the lecture's sequential loop (``exact.Request.lecture``).
CONSTRAINTS = ("label", "min_length", "exclude", "suffix", "contains", "only_new", "unique", "beam")


@dataclass
class SamplingOptions:
    """What to sample: how many words, from which distribution, under which constraints."""

    num_samples: int = 20
    """How many words to sample (of each label, when several are asked for)."""
    seed: int = 2147483647
    """Seed of the sampling generator (the lecture's 2147483647): the same seed gives the same words on any device."""
    temperature: float = 1.0
    """Divides the logits when sampling: below 1 sharpens, above 1 flattens."""
    top_k: int | None = None
    """Sample only from the k most likely next characters (null: from all of them)."""
    prefix: str = ""
    """Sample only words that start with these characters, e.g. "ka"."""
    max_length: int = 50
    """Longest word sampled, prefix included, so that a degenerate model cannot loop forever; a longer word is never
    cut, it is not drawn."""
    label: str | list[str] | None = None
    """Sample words of this label, or of each of several ([fr, de]: num_samples of each); null draws each word's
    label from the training split's prior (labelled models)."""
    min_length: int = 0
    """Sample only words of at least this many characters (every word has at least one: the words files hold no empty
    word)."""
    exclude: str = ""
    """Characters never drawn, e.g. "xqz"."""
    suffix: str = ""
    """Sample only words that end with these characters."""
    contains: str = ""
    """Sample only words that contain these characters, together."""
    only_new: bool = False
    """Sample only words that are not in the training split."""
    unique: bool = False
    """Never sample the same word twice in one request."""
    beam: int | None = None
    """Instead of sampling, this many of the most probable words (of each label) under the options above, best first,
    with their log-probabilities (null: sample)."""
    max_draws: int = 1000
    """The budget: words proposed (a beam: prefixes expanded) per word asked for; when it runs out, the words found
    come back with the option to relax."""
    exact: bool = True
    """Sample exactly the model's distribution restricted to the options; false accepts every masked proposal, which
    needs fewer draws but favours words the masks cut short (docs/sampling.md)."""
    prompt: str = ""
    """A model of running text: the text to continue, e.g. "ROMEO:" (empty: start after the vocabulary's first
    character, a newline in most texts)."""
    prompt_file: str | None = None
    """A model of running text: continue the text of this UTF-8 file instead of --sampling.prompt."""
    length: int = 500
    """A model of running text: how many characters to write after the prompt."""

    @property
    def labels(self) -> tuple[str, ...] | None:
        """``label`` as a tuple of names: one name, or several; None when not given."""
        if self.label is None:
            return None
        return (self.label,) if isinstance(self.label, str) else tuple(self.label)

    def constrained(self) -> bool:
        """Whether any option beyond temperature, top_k, prefix and max_length is set."""
        return any(getattr(self, name) != getattr(SamplingOptions, name) for name in CONSTRAINTS)

    def check(self, model: Samplable) -> None:
        """Refuse options that make no sense for ``model``, in one line naming the option."""
        if getattr(model, "text", False):
            return self._check_text(model)
        for option in TEXT_OPTIONS:
            if getattr(self, option) != getattr(SamplingOptions, option):
                raise UsageError(
                    f"{flag(option)} is for models of running text; this model samples words "
                    f"(--sampling.prefix starts each word with given characters)"
                )
        if self.num_samples < 1:
            raise UsageError(f"{flag('num_samples')} must be at least 1, got {self.num_samples}")
        self._check_draw()
        self._check_words(model)

    def _check_text(self, model: Samplable) -> None:
        self.check_text(model.itos)

    def check_text(self, itos: list[str]) -> None:
        """Refuse options that make no sense for a model of running text of vocabulary ``itos``: one line each."""
        check_text_options({name: getattr(self, name) for name in WORD_OPTIONS}, f"--{SECTION}")
        self._check_draw()
        if self.length < 0:
            raise UsageError(f"{flag('length')} must be at least 0, got {self.length}")
        prompt, source = self.read_prompt()
        encode_text(itos, prompt, source, by_line="\n" in prompt)

    def read_prompt(self) -> tuple[str, str]:
        """The text to continue (``prompt``, or the text of ``prompt_file``), and its name for a one-line error."""
        return read_prompt(self.prompt, self.prompt_file)

    def _check_draw(self) -> None:
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"{flag('seed')} must be in [0, 2**63), got {self.seed}")
        if self.temperature <= 0:
            raise UsageError(f"{flag('temperature')} must be > 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise UsageError(f"{flag('top_k')} must be at least 1 (or null for all), got {self.top_k}")

    def _check_words(self, model: Samplable) -> None:
        for option in ("max_length", "max_draws"):
            if getattr(self, option) < 1:
                raise UsageError(f"{flag(option)} must be at least 1, got {getattr(self, option)}")
        if self.min_length < 0:
            raise UsageError(f"{flag('min_length')} must be at least 0, got {self.min_length}")
        if self.beam is not None and self.beam < 1:
            raise UsageError(f"{flag('beam')} must be at least 1 (or null to sample), got {self.beam}")
        if self.labels is not None:
            if not self.labels:
                raise UsageError(f"{flag('label')}: give at least one label (or null)")
            model.label_ids(self.labels, flag("label"))
        longest = model.longest_sample(self.max_length)
        under = (
            f"{flag('max_length')} {self.max_length}"
            if longest == self.max_length
            else f"the longest word this model samples: {longest} characters, the longest word of the data"
        )
        if self.min_length > longest:
            raise UsageError(f"{flag('min_length')} {self.min_length} is above {under}")
        for option in ("prefix", "suffix", "contains"):
            self._check_characters(model, option, under, longest)
        if set(model.itos[1:]) <= set(self.exclude):  # a word has at least one character
            raise UsageError(f"{flag('exclude')} {self.exclude!r} leaves no character to draw")

    def _check_characters(self, model: Samplable, option: str, under: str, longest: int) -> None:
        text = getattr(self, option)
        unknown = sorted(set(text) - set(model.itos[1:]))
        if unknown:
            raise UsageError(
                f"{flag(option)} {text!r}: {''.join(unknown)!r} not in the vocabulary ({model.vocabulary.summary()})"
            )
        excluded = sorted(set(text) & set(self.exclude))
        if excluded:
            raise UsageError(f"{flag(option)} {text!r}: {''.join(excluded)!r} is excluded by {flag('exclude')}")
        # A prefix as long as the longest word would leave nothing to sample.
        if len(text) > longest or (option == "prefix" and text and len(text) >= longest):
            raise UsageError(f"{flag(option)} {text!r} leaves no room under {under}")


def flag(option: str) -> str:
    """The command line's name of ``option``: ``--sampling.<option>``."""
    return f"--{SECTION}.{option}"


@cache
def field_help() -> dict[str, str]:
    """Each field of ``SamplingOptions`` and its docstring, in order: the help that every interface shows."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(SamplingOptions)))
    body = tree.body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
            docs[node.target.id] = " ".join(after.value.value.split())
    return {f.name: docs[f.name] for f in fields(SamplingOptions)}


# The fields' docstrings again as the class docstring's Args section, the form that jsonargparse reads for
# --help. Its own reader of field docstrings (docstring_parse_attribute_docstrings) parses the source of
# every class in every parser, each time a command starts: about 2 s of every command's start-up.
SamplingOptions.__doc__ += "\n\n    Args:\n" + "".join(
    f"        {name}: {text}\n" for name, text in field_help().items()
)
