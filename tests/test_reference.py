"""benchmarks/reference.py: makemore.py comes from the file that MAKEMORE_PY names, or its comparison is skipped."""

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import reference  # benchmarks/ is a folder of scripts, not a package


def test_makemore_py_comes_from_the_file_the_environment_names(tmp_path, monkeypatch):
    # A stand-in of the user's own copy: any file is copied as it is, and never kept in the repository.
    own = tmp_path / "elsewhere" / "makemore.py"
    own.parent.mkdir()
    own.write_text("print('a copy of makemore.py')\n")
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.setenv("MAKEMORE_PY", str(own))
    script, source = reference.fetch_makemore(workdir)
    assert script == workdir / "makemore.py" and script.read_text() == own.read_text()
    assert source == f"copied from {own} (MAKEMORE_PY)"


def test_without_makemore_py_the_comparison_is_skipped_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("MAKEMORE_PY", raising=False)
    script, source = reference.fetch_makemore(tmp_path)
    assert script is None and source == "skipped: set MAKEMORE_PY to a copy of karpathy/makemore's makemore.py"
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("MAKEMORE_PY", str(tmp_path / "missing.py"))
    script, source = reference.fetch_makemore(tmp_path)
    assert script is None and source == f"skipped: MAKEMORE_PY={tmp_path / 'missing.py'} is no file"
