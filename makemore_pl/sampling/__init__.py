"""Sampling words from a model: the options (``SamplingOptions``), exact constrained sampling, beam search.

Typed against ``protocol.Samplable``, what sampling needs of a model: nothing here imports
``makemore_pl.models``, which call into this package (Lightning puts ``predict_step`` on the model).
The package imports only its plain records here; ``exact.generate`` samples.
"""

from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.sampling.records import Prediction, Sampled, SampleResult

__all__ = ["Prediction", "SampleResult", "Sampled", "SamplingOptions"]
