"""The character vocabulary, and the vectorised encoding of words into n-gram examples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

# The lecture marks both ends of a word with '.'. A data file may contain '.', so the
# fallback is '\n': a file is read one item per line, so no item can ever contain it.
BOUNDARY_CANDIDATES = (".", "\n")
# The target of a padding position: F.cross_entropy(..., ignore_index=PAD) leaves it out of the loss.
PAD = -1


class Vocabulary:
    """Token 0 is the boundary that starts and ends every word; tokens 1.. are the data's characters, sorted.

    The vocabulary is kept as a plain list of strings (``itos``) so that it can live in a
    checkpoint loaded with ``weights_only=True``.
    """

    def __init__(self, itos: Sequence[str]) -> None:
        self.itos = list(itos)
        if not self.itos or len(set(self.itos)) != len(self.itos):
            raise ValueError(f"a vocabulary needs distinct tokens, got {self.itos!r}")
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @classmethod
    def from_words(cls, words: Sequence[str], known: Sequence[str] = ()) -> Vocabulary:
        """The characters of ``words``, sorted, after a boundary; with ``known``, a vocabulary to extend.

        The extended vocabulary holds every character of ``known`` too (a fine-tuned model still
        reads them), sorted with the new ones: the encoding relies on the order. Its boundary stays
        token 0, and keeps ``known``'s symbol unless the words use it as a character.
        """
        chars = sorted(set("".join(words)) | set(known[1:]))
        boundary = next(c for c in (*known[:1], *BOUNDARY_CANDIDATES) if c not in chars)
        return cls([boundary, *chars])

    @property
    def boundary(self) -> str:
        return self.itos[0]

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocabulary({self.summary()})"

    def summary(self) -> str:
        """A one-line description: size, boundary and characters, for error messages."""
        chars = "".join(self.itos[1:])
        shown = chars if len(chars) <= 60 else chars[:57] + "..."
        return f"{len(self)} tokens, boundary {self.boundary!r}, characters {shown!r}"

    def encode(self, word: str) -> list[int]:
        return [self.stoi[c] for c in word]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.itos[i] for i in ids)

    def _stream(self, words: Sequence[str]) -> np.ndarray:
        """All words as one int32 stream of token ids: the boundary, then each word followed by the boundary."""
        # One stream for all words: the boundary before the first word, and after every word.
        codepoints = np.frombuffer(("\n".join(words) + "\n").encode("utf-32-le"), dtype=np.uint32)
        chars = np.array([ord(c) for c in self.itos[1:]], dtype=np.uint32)  # sorted, as itos is
        # int32 until the end: the intermediates of a 3-million-word file stay well under a gigabyte.
        ids = np.searchsorted(chars, codepoints).astype(np.int32) + 1
        is_boundary = codepoints == ord("\n")
        ids[is_boundary] = 0
        known = is_boundary | (chars[np.minimum(ids - 1, len(chars) - 1)] == codepoints)
        if not known.all():
            unknown = chr(int(codepoints[np.argmin(known)]))
            raise ValueError(f"character {unknown!r} is not in the vocabulary ({self.summary()})")
        return np.concatenate([np.zeros(1, dtype=np.int32), ids])

    def encode_words(self, words: Sequence[str], context: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every (context, next character) example of ``words``, as in the lecture, without a Python loop per character.

        Each word contributes ``len(word) + 1`` examples: the boundary predicts the first
        character, ..., the last character predicts the boundary. ``x`` has shape
        ``(n, context)``, oldest character first, padded with the boundary at the start of
        a word; ``y`` has shape ``(n,)``. Both are int64.
        """
        stream = self._stream(words)
        y = torch.from_numpy(stream[1:]).long()
        if context == 1:  # the bigram: the previous token, which is the boundary at a word's start
            return torch.from_numpy(stream[:-1]).long()[:, None], y
        # For the example predicting stream[i], its word began just after the last
        # boundary before i; context positions before that are padding (the boundary).
        positions = np.arange(len(stream), dtype=np.int32)
        last_boundary = np.maximum.accumulate(np.where(stream == 0, positions, 0))[:-1]
        targets = positions[1:]
        x = torch.empty((len(y), context), dtype=torch.int64)
        for lag in range(1, context + 1):
            inside = targets - lag >= last_boundary
            x[:, context - lag] = torch.from_numpy(np.where(inside, stream[np.maximum(targets - lag, 0)], 0))
        return x, y

    def encode_padded(self, words: Sequence[str], length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Each word as one row, for models that predict every position of a word at once.

        ``x`` is the boundary followed by the word, ``y`` the word followed by the boundary, so
        ``y[:, t]`` is the character after ``x[:, :t + 1]``. Rows are padded to ``length``
        (at least the longest word + 1): ``x`` with the boundary, ``y`` with ``PAD``, which the
        loss ignores. Both are int64 of shape ``(len(words), length)``.
        """
        stream = self._stream(words)
        sizes = np.array([len(w) + 1 for w in words], dtype=np.int64)
        if len(sizes) and sizes.max() > length:
            raise ValueError(f"a word of {sizes.max() - 1} characters does not fit in rows of {length}")
        rows = np.repeat(np.arange(len(words)), sizes)
        starts = np.cumsum(sizes) - sizes
        cols = np.arange(len(rows)) - np.repeat(starts, sizes)
        x = torch.zeros((len(words), length), dtype=torch.int64)
        y = torch.full((len(words), length), PAD, dtype=torch.int64)
        x[rows, cols] = torch.from_numpy(stream[:-1]).long()
        y[rows, cols] = torch.from_numpy(stream[1:]).long()
        return x, y
