"""A text file encoded once, in a streaming pass, to a token file that training reads through ``np.memmap``.

The tokens live in a cache folder named by the file's size, modification time and a BLAKE2 hash of
its bytes (and the encoding), so a later run reuses them and a changed file is encoded again. The
folder holds ``tokens.bin`` (the ids, in the smallest of uint8, uint16 and uint32 that fits the
vocabulary) and ``meta.json`` (the vocabulary, the length and the dtype), each written through a
temporary file and a rename; ``meta.json`` is written last, so its presence means a complete folder.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from makemore_pl.data.files import write_atomic
from makemore_pl.errors import UsageError

CHUNK_BYTES = 1 << 22  # 4 MiB read at a time: memory stays flat whatever the file's size
FORMAT = 1  # bumped when the folder's layout changes, so an old folder is never misread


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/makemore-pl/tokens``, ``~/.cache/makemore-pl/tokens`` without it."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "makemore-pl" / "tokens"


def smallest_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds every id of ``vocab_size`` tokens."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise ValueError(f"{vocab_size} tokens do not fit in uint32")


@dataclass(frozen=True)
class TokenFile:
    """The encoded text: ``length`` ids of ``vocab`` in ``path``, each a ``dtype``."""

    path: Path
    vocab: list[str]
    length: int
    dtype: str

    def tokens(self) -> np.ndarray:
        """The ids as a read-only memmap, opened afresh by each caller.

        A memmap kept open for a whole run keeps the pages it touched resident (nanoGPT #287);
        one opened per batch lets the kernel drop them, so memory does not grow with the corpus.
        """
        if self.length == 0:
            return np.zeros(0, dtype=self.dtype)
        return np.memmap(self.path, dtype=self.dtype, mode="r", shape=(self.length,))


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            yield chunk


def _decoded(path: Path, encoding: str) -> Iterator[str]:
    """The file's text, chunk by chunk; undecodable bytes are one UsageError naming the byte offset and line."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    except LookupError:
        raise UsageError(f"--data.encoding: unknown encoding {encoding!r}") from None
    offset, lines = 0, 1  # the byte offset of the chunk's start, the line it starts on
    for chunk in _chunks(path):
        pending = len(decoder.getstate()[0])  # bytes of a character cut by the previous chunk
        try:
            yield decoder.decode(chunk)
        except UnicodeDecodeError as e:
            at = offset - pending + e.start
            line = lines + chunk.count(b"\n", 0, max(at - offset, 0))
            raise UsageError(
                f"{path}, byte {at} (line {line}): bytes not valid in the encoding {encoding!r} ({e.reason}); "
                "fix the file or set --data.encoding"
            ) from None
        offset, lines = offset + len(chunk), lines + chunk.count(b"\n")
    try:
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        raise UsageError(
            f"{path}, byte {offset - len(decoder.getstate()[0]) + e.start} (line {lines}): the file ends inside a "
            f"character of the encoding {encoding!r} ({e.reason}); fix the file or set --data.encoding"
        ) from None


def _fingerprint(path: Path, encoding: str) -> str:
    """The cache folder's name: size, modification time, BLAKE2 of the bytes, and the encoding."""
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    for chunk in _chunks(path):
        digest.update(chunk)
    return f"{path.name}-{stat.st_size}-{stat.st_mtime_ns}-{digest.hexdigest()}-{encoding}-v{FORMAT}"


def encode_file(
    path: str | os.PathLike, encoding: str = "utf-8", cache_dir: str | os.PathLike | None = None
) -> TokenFile:
    """The token file of the text file ``path``: from the cache when it holds this file's, else encoded now."""
    path = Path(path)
    if not path.is_file():
        what = "a folder, not a text file" if path.is_dir() else "no such file"
        raise UsageError(f"--data.path {path}: {what}")
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = folder / _fingerprint(path, encoding)
    meta = folder / "meta.json"
    if meta.is_file():
        saved = json.loads(meta.read_text())
        return TokenFile(folder / "tokens.bin", saved["vocab"], saved["length"], saved["dtype"])
    # Pass 1: the vocabulary and the length, without keeping the text.
    chars: set[str] = set()
    length = 0
    for text in _decoded(path, encoding):
        chars.update(text)
        length += len(text)
    vocab = sorted(chars)
    dtype = smallest_dtype(len(vocab))
    # Pass 2: the ids, written chunk by chunk into a temporary file renamed into place.
    folder.mkdir(parents=True, exist_ok=True)
    codepoints = np.array([ord(c) for c in vocab], dtype=np.uint32)  # sorted, as vocab is
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tokens.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for text in _decoded(path, encoding):
                points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
                f.write(np.searchsorted(codepoints, points).astype(dtype).tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / "tokens.bin")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    write_atomic(meta, json.dumps({"vocab": vocab, "length": length, "dtype": dtype.name}).encode())
    return TokenFile(folder / "tokens.bin", vocab, length, dtype.name)
