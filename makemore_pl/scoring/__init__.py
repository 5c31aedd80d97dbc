"""What a model says of given words: each word's scores (``words``), and the classifiers a labelled model is
measured against (``baselines``). Typed against ``makemore_pl.sampling.protocol.Samplable``: nothing here
imports ``makemore_pl.models``.
"""

from makemore_pl.scoring.words import WordScore, check_scorable, score_words, unscorable

__all__ = ["WordScore", "check_scorable", "score_words", "unscorable"]
