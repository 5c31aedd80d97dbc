"""What ``predict_step`` does with the request its batch carries: its share of the words, in the order asked."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from makemore_pl.sampling.exact import generate
from makemore_pl.sampling.protocol import Samplable
from makemore_pl.sampling.records import Prediction
from makemore_pl.sampling.requests import SampleBatch


def sample_batch(model: Samplable, batch: SampleBatch, train_words: set[str] | None) -> Prediction:
    """Sample the words whose indices are in ``batch`` (of each label asked for).

    The batch's first index offsets the seed, so processes sharing the work draw different
    words, and one process draws the lecture's words for its seed. A beam draws nothing: the
    process with the first index searches, the others return nothing.
    """
    indices, options = batch.indices.tolist(), batch.options
    beam = options.beam is not None
    if beam and indices[0] != 0:
        return Prediction(beam=True)
    request = replace(options, num_samples=len(indices), seed=options.seed + indices[0])
    (result,) = generate(model, [request], train_words)
    # Sorted by (label, index) across processes: each label's words together, in the order asked.
    part_of = {name: i for i, name in enumerate(options.labels or ())}
    positions: Counter[int] = Counter()
    order = []
    for sampled in result.words:
        part = part_of.get(sampled.label, 0)  # a label drawn from the prior: one part, every label
        order.append((part, positions[part] if beam else indices[positions[part]]))
        positions[part] += 1
    return Prediction(result.words, order, result.missing, result.advice, beam)
