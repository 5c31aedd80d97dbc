"""Reading words files, and writing or downloading files atomically, so that no half-written file is ever left."""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from makemore_pl.errors import UsageError


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader sees the old file or the new one, never a mix; a crash leaves no partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make the result private
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def download(url: str, path: str | os.PathLike, sha256: str | None = None, timeout: float = 30.0) -> None:
    """Fetch ``url`` into ``path``, verify its SHA-256 if given, and move it into place atomically."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = getattr(e, "reason", None) or repr(e)
        raise UsageError(f"could not download {url} to {path}: {reason}; nothing was written") from e
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise UsageError(f"download of {url} has SHA-256 {digest}, expected {sha256}; {path} was not written")
    write_atomic(path, data)


def read_lines(path: str | os.PathLike, encoding: str = "utf-8") -> list[str]:
    """The file's lines, decoded; every failure is one UsageError naming the file, and the line for bad bytes."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"words file not found: {path}. Point --data.path at a text file with one word per line, "
            "or run from the repository root, where data/names.txt is downloaded when missing"
        ) from None
    except IsADirectoryError:
        raise UsageError(f"--data.path is a folder, not a words file: {path}") from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise UsageError(
            f"{path}, line {line}: bytes not valid in the encoding {encoding!r} ({e.reason}); "
            "fix the file or set --data.encoding"
        ) from None
    except LookupError:
        raise UsageError(f"--data.encoding: unknown encoding {encoding!r}") from None
    return text.splitlines()


def read_words(path: str | os.PathLike, encoding: str = "utf-8") -> list[str]:
    """The file's lines, stripped of surrounding whitespace, without blank lines."""
    words = [w for w in (line.strip() for line in read_lines(path, encoding)) if w]
    if not words:
        raise UsageError(f"{path} has no words: it is empty or holds only blank lines")
    return words
