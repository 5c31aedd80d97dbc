"""The two LitAPIs of the server: ``POST /sample`` (batched) and ``POST /score``.

Each loads the checkpoint once in its own inference worker (``setup``); LitServe starts the
workers by spawn, so an API holds only plain values (the checkpoint's path) until then.
"""

# No `from __future__ import annotations` here: LitServe reads decode_request's annotation to give
# FastAPI the body's model, and a postponed annotation would reach it as a string.
from dataclasses import asdict, dataclass
from typing import Any

import litserve as ls
from fastapi import HTTPException
from fastapi.responses import JSONResponse
from litserve.loops import BatchedLoop

from makemore_pl.checkpoints import load_model, training_words
from makemore_pl.errors import UsageError
from makemore_pl.sampling.exact import generate
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.scoring.words import score_words
from makemore_pl.serve.schema import SampleRequest, ScoreRequest


def field_message(error: UsageError) -> str:
    """A UsageError of the command line, naming the request's fields: the options without their section."""
    return str(error).replace("--sampling.", "").replace("--data.", "")


@dataclass
class Refused:
    """A request that its checks turned down in the worker, answered with a 422 of its own."""

    message: str


class SampleAPI(ls.LitAPI):
    def __init__(self, ckpt_path: str, max_batch_size: int = 64, batch_timeout: float = 0.005) -> None:
        # Always the batched loop, so that predict gets a list even at max_batch_size 1.
        super().__init__(max_batch_size, batch_timeout, api_path="/sample", loop=BatchedLoop())
        self.ckpt_path = ckpt_path

    def setup(self, device: str) -> None:
        self.model = load_model(self.ckpt_path, map_location=device)
        self.train_words = training_words(self.ckpt_path)

    def decode_request(self, request: SampleRequest) -> SamplingOptions | Refused:
        # LitServe fails a whole batch when one of its requests raises, so a request whose
        # options do not fit the model is set aside here and answered on its own.
        try:
            options = SamplingOptions(**request.options())
            options.check(self.model)
        except UsageError as e:
            return Refused(field_message(e))
        if options.only_new and self.train_words is None:
            return Refused("only_new needs the training words, and the words file of the checkpoint's run is not here")
        return options

    def predict(self, requests: list) -> list:
        # All the batch's requests advance together; each still gets exactly its seed's words.
        drawn = [request for request in requests if not isinstance(request, Refused)]
        results = iter(generate(self.model, drawn, self.train_words) if drawn else [])
        return [request if isinstance(request, Refused) else next(results) for request in requests]

    def encode_response(self, result: Any) -> Any:
        if isinstance(result, Refused):
            return JSONResponse({"detail": result.message}, status_code=422)
        words = []
        for sampled in result.words:
            mark = "unknown" if self.train_words is None else "train" if sampled.word in self.train_words else "new"
            word = {"word": sampled.word, "mark": mark, "log_prob": sampled.log_prob}
            if sampled.label is not None:
                word["label"] = sampled.label
            words.append(word)
        return {"words": words, "missing": result.missing, "advice": result.advice}


class ScoreAPI(ls.LitAPI):
    def __init__(self, ckpt_path: str) -> None:
        super().__init__(api_path="/score")
        self.ckpt_path = ckpt_path

    def setup(self, device: str) -> None:
        self.model = load_model(self.ckpt_path, map_location=device)
        self.train_words = training_words(self.ckpt_path)

    def decode_request(self, request: ScoreRequest) -> ScoreRequest:
        return request

    def predict(self, request: ScoreRequest) -> list:
        # One request at a time: a word outside the vocabulary fails its own request only.
        try:
            return score_words(self.model, request.words, self.train_words, per_char=request.per_char)
        except UsageError as e:
            raise HTTPException(422, f"words: {e}") from None

    def encode_response(self, scores: list) -> dict:
        return {"scores": [asdict(score) for score in scores]}
