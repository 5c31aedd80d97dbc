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


def line_of(path: Path, word: str, encoding: str = "utf-8", labelled: bool = False) -> str:
    """``"<file>, line <n>"``: where the words file (or folder of them) at ``path`` holds ``word``; else the path."""
    files = sorted(path.glob("*.txt")) if path.is_dir() else [path]
    for file in files:
        for number, line in enumerate(read_lines(file, encoding), start=1):
            if (line.rpartition("\t")[0] if labelled else line).strip() == word:
                return f"{file}, line {number}"
    return str(path)


def read_words(path: str | os.PathLike, encoding: str = "utf-8") -> list[str]:
    """The file's lines, stripped of surrounding whitespace, without blank lines."""
    words = [w for w in (line.strip() for line in read_lines(path, encoding)) if w]
    if not words:
        raise UsageError(f"{path} has no words: it is empty or holds only blank lines")
    return words


Pair = tuple[str, str]  # (word, label)


def read_labelled(path: str | os.PathLike, encoding: str = "utf-8") -> list[Pair]:
    """The ``word<TAB>label`` lines of a file as (word, label) pairs; blank lines are dropped.

    The line is cut at its last TAB: a label never holds one, and surrounding whitespace of
    either side is dropped. A line without a TAB, or with nothing on one side, is refused with its line.
    """
    pairs = []
    for number, line in enumerate(read_lines(path, encoding), start=1):
        if not line.strip():
            continue
        word, tab, label = line.rpartition("\t")
        word, label = word.strip(), label.strip()
        if not tab:
            raise UsageError(f"{path}, line {number}: no TAB; with --data.labelled true each line is word<TAB>label")
        if not word or not label:
            empty = "word" if not word else "label"
            raise UsageError(f"{path}, line {number}: an empty {empty}; each line is word<TAB>label")
        pairs.append((word, label))
    if not pairs:
        raise UsageError(f"{path} has no words: it is empty or holds only blank lines")
    return pairs


def read_folder(path: str | os.PathLike, encoding: str = "utf-8") -> list[Pair]:
    """The words of a folder of ``<label>.txt`` files, one word per line, each labelled by its file's name.

    The layout of the PyTorch tutorial's ``data/names/<Language>.txt``. Hidden files (``.DS_Store``,
    an editor's swap file) are not the user's words and are passed over; any other file that is not
    a ``.txt`` text file is refused by name, rather than read as words or silently left out.
    """
    folder = Path(path)
    files = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if not files:
        raise UsageError(f"--data.path {folder}: an empty folder; it should hold one <label>.txt file per label")
    for file in files:
        if not file.is_file() or file.suffix != ".txt":
            raise UsageError(f"--data.path {folder}: {file.name} is not a <label>.txt words file; move it out")
        if b"\0" in file.read_bytes()[:8192]:
            raise UsageError(f"{file}: not a text file (it holds NUL bytes); move it out of --data.path")
    return [(word, file.stem) for file in files for word in read_words(file, encoding)]
