"""``POST /surprisal``: a model of running text scores a text, giving each character's surprisal.

The figures are ``makemore-pl score``'s: ``text_scoring.score_text`` computes them, with the same
``reading``, so that the page colours a text by exactly the surprisals that ``score --per_char`` prints.
"""

# No `from __future__ import annotations` here: LitServe reads decode_request's annotation.
import litserve as ls
from fastapi import HTTPException

from makemore_pl.checkpoints import load_model
from makemore_pl.errors import UsageError
from makemore_pl.serve.schema import SurprisalRequest
from makemore_pl.text_scoring import TextScore, score_text

PATH = "/surprisal"


class SurprisalAPI(ls.LitAPI):
    def __init__(self, ckpt_path: str) -> None:
        super().__init__(api_path=PATH)
        self.ckpt_path = ckpt_path

    def setup(self, device: str) -> None:
        self.model = load_model(self.ckpt_path, map_location=device)

    def decode_request(self, request: SurprisalRequest) -> SurprisalRequest:
        return request

    def predict(self, request: SurprisalRequest) -> TextScore:
        # One request at a time: a character outside the vocabulary fails its own request only,
        # named by its position in the text, counted from 1 (as a /generate prompt's is).
        try:
            return score_text(self.model, request.text, request.reading, surprisals=True, source="text", by_line=False)
        except UsageError as e:
            raise HTTPException(422, str(e)) from None

    def encode_response(self, score: TextScore) -> dict:
        return surprisal_answer(score)


def surprisal_answer(score: TextScore) -> dict:
    """The JSON of a text's score: the characters predicted, the total and mean in nats and bits, each in bits."""
    return {
        "characters": score.characters,  # every character but the first, which nothing before it predicts
        "total_nll": score.total_nll,
        "total_bits": score.bits_per_character * score.characters,
        "nats_per_char": score.nll_per_character,
        "bits_per_char": score.bits_per_character,
        "surprisals": score.surprisals,  # bits, of the text's characters 2, 3, ... in order
    }
