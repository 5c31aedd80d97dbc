"""`makemore-pl serve`: a checkpoint behind an HTTP API on LitServe, and a web page (the ``serve`` extra).

| module | what it holds |
|---|---|
| ``server`` | the command, and the LitServer: page, body limit, one-line errors |
| ``apis`` | the LitAPIs of ``POST /sample`` (batched) and ``POST /score`` |
| ``generate`` | a text model's streamed ``POST /generate``, and its check before the stream starts |
| ``surprisal`` | a text model's ``POST /surprisal``: each character's surprisal, as ``score`` gives it |
| ``schema`` | the request bodies as pydantic models, and their caps |
| ``info`` | what ``GET /info`` says about the checkpoint |
| ``ui/`` | the page at ``/ui/``: HTML, CSS and JavaScript, no build step |
"""
