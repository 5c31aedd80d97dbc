"""The bodies that the API accepts, as pydantic models: FastAPI answers one that does not fit with a 422.

What a request can ask for is checked here, before it joins a batch: types, ranges and the caps
below. What depends on the model (its vocabulary, labels, longest word) is checked by the
model's own option checks in the inference worker (``apis``), as ``predict`` checks them.
"""

from dataclasses import fields
from typing import Annotated, Any, Literal, get_type_hints

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from makemore_pl.sampling.options import COMMAND_LINE_ONLY, SamplingOptions, field_help

# The most words one request may ask for or score: a bigger job is several requests, so that
# one client cannot hold a batch, and everyone in it, for long.
MAX_SAMPLES = 1000
MAX_WORDS = 1000
# The longest word the API samples or scores, and the longest prefix, suffix, ... string.
MAX_LENGTH = 256
# The largest request body, in bytes: a thousand words of 64 characters fit with room to spare.
MAX_BODY_BYTES = 100_000
# The longest prompt, and the most characters one request may continue it by (a model of running text).
MAX_PROMPT = 10_000
MAX_TEXT_LENGTH = 10_000
# The longest text one request may have coloured by surprisal (POST /surprisal): a page or two.
MAX_SCORED_TEXT = 10_000

Chars = Annotated[str, Field(max_length=MAX_LENGTH)]


def _as_list(value: Any) -> Any:
    # One label may be given alone: "label": "fr" is "label": ["fr"].
    return [value] if isinstance(value, str) else value


# Each sampling option's bounds in a request, beyond its type: every field of SamplingOptions but
# those of the command line alone (COMMAND_LINE_ONLY) is a field of the request, with the option's
# own help (options.field_help) as its description.
BOUNDS: dict[str, dict[str, Any]] = {
    "num_samples": {"ge": 1, "le": MAX_SAMPLES},
    "seed": {"ge": 0, "lt": 2**63},
    "temperature": {"gt": 0, "allow_inf_nan": False},
    "top_k": {"ge": 1},
    "min_length": {"ge": 0, "le": MAX_LENGTH},
    "max_length": {"ge": 1, "le": MAX_LENGTH},
    "label": {"max_length": MAX_SAMPLES},
    "beam": {"ge": 1, "le": 64},
    "max_draws": {"ge": 1, "le": 10_000},
    "length": {"ge": 0, "le": MAX_TEXT_LENGTH},
}
# The request's type of each option: strings capped, one label or several.
TYPES: dict[str, Any] = {
    "prefix": Chars,
    "suffix": Chars,
    "contains": Chars,
    "exclude": Chars,
    "label": Annotated[list[str], BeforeValidator(_as_list)],
    "prompt": Annotated[str, Field(max_length=MAX_PROMPT)],
}


def _request_fields() -> dict[str, Any]:
    defined = {f.name: f for f in fields(SamplingOptions)}
    request: dict[str, Any] = {}
    for name, description in field_help().items():
        if name in COMMAND_LINE_ONLY:
            continue
        kind = TYPES.get(name, defined[name].type)
        if isinstance(kind, str):  # postponed annotations: the dataclass's own types, resolved
            kind = get_type_hints(SamplingOptions)[name]
        default = defined[name].default if name == "num_samples" else None
        request[name] = (kind | None, Field(default, description=description, **BOUNDS.get(name, {})))
    return request


class _Strict(BaseModel):
    # strict: "5" is not a number, 1 is not true; forbid: a misspelt option is an error, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True)

    def options(self) -> dict[str, Any]:
        """The sampling options this request sets, by name, the others left to their defaults."""
        return self.model_dump(exclude_none=True)


# The body of ``POST /sample``: the --sampling options without their section; one left out (or null) is
# its default, as for ``makemore-pl predict``.
SampleRequest = create_model("SampleRequest", __base__=_Strict, **_request_fields())


class ScoreRequest(BaseModel):
    """The body of ``POST /score``: the words to score, and whether to give each character's surprisal."""

    model_config = ConfigDict(extra="forbid", strict=True)

    words: list[Chars] = Field(min_length=1, max_length=MAX_WORDS, description="The words to score.")
    per_char: bool = Field(False, description="Also give each character's surprisal, then the end's, in nats.")


class SurprisalRequest(BaseModel):
    """The body of ``POST /surprisal``: a text for a model of running text to score character by character."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(
        max_length=MAX_SCORED_TEXT,
        description="The text to score: each character after the first gets its surprisal given the text before it.",
    )
    reading: Literal["windows", "sliding"] = Field(
        "windows",
        description="What 'the text before it' is, as for makemore-pl score --reading: windows (as validation "
        "reads a text) or sliding (the longest context the model reads).",
    )


def one_line(errors: list[dict[str, Any]]) -> str:
    """pydantic's validation errors of a request body as one line naming each field, e.g. ``num_samples: ...``."""
    parts = []
    for error in errors:
        where = [str(part) for part in error["loc"] if part != "body"]
        if error["type"] == "json_invalid":
            parts.append(f"the body is not valid JSON: {error['ctx']['error']} at character {where[0]}")
        elif not where:
            parts.append(f"the body: {error['msg']} (send a JSON object)")
        else:
            parts.append(f"{'.'.join(where)}: {error['msg']}")
    return "; ".join(dict.fromkeys(parts))
