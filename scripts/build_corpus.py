"""Build a large running-text corpus (1 MB, 10 MB, 100 MB, ...) from text that Debian packages install.

The C source of the Linux kernel (char-rnn's famous demo), from Debian's ``linux-source-*`` package
(``/usr/src/linux-source-*.tar.xz``), read member by member without unpacking it; without that package,
the C headers, Python and Perl sources under ``/usr/include``, ``/usr/lib/python3*`` and ``/usr/share/perl*``.
Only files that decode as UTF-8 are taken, whole, in a fixed order, until the size is reached (the last one
cut at a line's end), so the same machine always builds the same corpus. The data is never committed.

    python scripts/build_corpus.py --size 100MB --out /tmp/corpus_100MB.txt
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

SUFFIXES = (".c", ".h", ".py", ".pm")
UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9}


def parse_size(text: str) -> int:
    """``100MB`` as bytes (decimal units, as the issue's 1 MB / 10 MB / 100 MB)."""
    for unit, factor in UNITS.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def kernel_sources() -> Iterator[tuple[str, bytes]]:
    """The .c and .h files of the first linux-source tarball, in archive order."""
    for archive in sorted(glob.glob("/usr/src/linux-source-*.tar.*")):
        with tarfile.open(archive) as tar:  # a stream: members are decompressed one after the other
            for member in tar:
                if member.isfile() and member.name.endswith(SUFFIXES):
                    data = tar.extractfile(member)
                    if data is not None:
                        yield f"{archive}:{member.name}", data.read()
        return


def installed_sources() -> Iterator[tuple[str, bytes]]:
    """Source and header files that Debian packages install, in sorted order."""
    roots = ["/usr/include", *sorted(glob.glob("/usr/lib/python3*")), *sorted(glob.glob("/usr/share/perl*"))]
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                path = Path(folder, name)
                if name.endswith(SUFFIXES) and path.is_file() and not path.is_symlink():
                    yield str(path), path.read_bytes()


def build(size: int, out: Path) -> tuple[int, int, str]:
    """Write at most ``size`` bytes of UTF-8 source text to ``out`` atomically: (bytes, files, source)."""
    written = files = 0
    source = "linux-source" if glob.glob("/usr/src/linux-source-*.tar.*") else "installed sources"
    stream = kernel_sources() if source == "linux-source" else installed_sources()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for _, data in stream:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                if written + len(data) > size:
                    data = data[: data.rfind(b"\n", 0, size - written) + 1]  # whole lines only
                f.write(data)
                written, files = written + len(data), files + 1
                if written >= size or not data:
                    break
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return written, files, source


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="100MB", help="How much text: 1MB, 10MB, 100MB (decimal units).")
    parser.add_argument("--out", required=True, type=Path, help="The corpus file to write.")
    args = parser.parse_args(argv)
    written, files, source = build(parse_size(args.size), args.out)
    if written < parse_size(args.size) * 0.99:
        print(f"build_corpus: only {written:,} bytes of text found in {source}", file=sys.stderr)
    print(f"{args.out}: {written:,} bytes from {files:,} files of {source}")


if __name__ == "__main__":
    main()
