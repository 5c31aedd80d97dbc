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

# The section of the command line that holds the options: ``--sampling.temperature``, ...
SECTION = "sampling"
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
        if self.num_samples < 1:
            raise UsageError(f"{flag('num_samples')} must be at least 1, got {self.num_samples}")
        if not 0 <= self.seed < 2**63:
            raise UsageError(f"{flag('seed')} must be in [0, 2**63), got {self.seed}")
        if self.temperature <= 0:
            raise UsageError(f"{flag('temperature')} must be > 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise UsageError(f"{flag('top_k')} must be at least 1 (or null for all), got {self.top_k}")
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
