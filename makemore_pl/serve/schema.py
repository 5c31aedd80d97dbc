"""The bodies that the API accepts, as pydantic models: FastAPI answers one that does not fit with a 422.

What a request can ask for is checked here, before it joins a batch: types, ranges and the caps
below. What depends on the model (its vocabulary, labels, longest word) is checked by the
model's own option checks in the inference worker (``apis``), as ``predict`` checks them.
"""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# The most words one request may ask for or score: a bigger job is several requests, so that
# one client cannot hold a batch, and everyone in it, for long.
MAX_SAMPLES = 1000
MAX_WORDS = 1000
# The longest word the API samples or scores, and the longest prefix, suffix, ... string.
MAX_LENGTH = 256
# The largest request body, in bytes: a thousand words of 64 characters fit with room to spare.
MAX_BODY_BYTES = 100_000

Chars = Annotated[str, Field(max_length=MAX_LENGTH)]


def _as_list(value: Any) -> Any:
    # One label may be given alone: "label": "fr" is "label": ["fr"].
    return [value] if isinstance(value, str) else value


class SampleRequest(BaseModel):
    """The body of ``POST /sample``: predict's sampling options without their section.

    An option left out (or null) is the checkpoint's, as for ``makemore-pl predict --ckpt_path``.
    """

    # strict: "5" is not a number, 1 is not true; forbid: a misspelt option is an error, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True)

    num_samples: int = Field(20, ge=1, le=MAX_SAMPLES, description="How many words to sample.")
    sample_seed: int | None = Field(None, ge=0, lt=2**63, description="Seed: the same seed gives the same words.")
    temperature: float | None = Field(None, gt=0, allow_inf_nan=False, description="Divides the logits.")
    top_k: int | None = Field(None, ge=1, description="Sample only from the k most likely next characters.")
    prefix: Chars | None = Field(None, description="Every word starts with these characters.")
    suffix: Chars | None = Field(None, description="Every word ends with these characters.")
    contains: Chars | None = Field(None, description="Every word contains these characters, in this order.")
    exclude: Chars | None = Field(None, description="Characters no word contains.")
    min_length: int | None = Field(None, ge=0, le=MAX_LENGTH, description="Shortest word, in characters.")
    max_length: int | None = Field(None, ge=1, le=MAX_LENGTH, description="Longest word, in characters.")
    label: Annotated[list[str], BeforeValidator(_as_list)] | None = Field(
        None, max_length=MAX_SAMPLES, description="A labelled model's label, or one per word."
    )
    only_new: bool | None = Field(None, description="Only words that are not training words.")
    unique: bool | None = Field(None, description="No word twice.")
    beam: int | None = Field(None, ge=1, le=64, description="The most likely words, by beam search of this width.")

    def options(self) -> dict[str, Any]:
        """The sampling options this request sets, by name, the others left to the checkpoint."""
        given = self.model_dump(exclude_none=True, exclude={"num_samples", "sample_seed"})
        if "label" in given:
            given["label"] = tuple(given["label"])
        return given


class ScoreRequest(BaseModel):
    """The body of ``POST /score``: the words to score, and whether to give each character's surprisal."""

    model_config = ConfigDict(extra="forbid", strict=True)

    words: list[Chars] = Field(min_length=1, max_length=MAX_WORDS, description="The words to score.")
    per_char: bool = Field(False, description="Also give each character's surprisal, then the end's, in nats.")


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
