"""scripts/system_packages.sh: the one list of Debian packages the tests need, which `make test` and .ci/run install."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from conftest import REPO

SCRIPT = REPO / "scripts" / "system_packages.sh"


def run(*args: str, admindir: Path | None = None, as_nobody: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, **({"DPKG_ADMINDIR": str(admindir)} if admindir else {})}
    user = ["runuser", "-u", "nobody", "--"] if as_nobody and os.geteuid() == 0 else []
    script = SCRIPT
    if user:  # a clone in a private folder (mktemp -d) is out of nobody's reach: a copy it can run
        folder = Path(tempfile.mkdtemp(prefix="system_packages_"))
        folder.chmod(0o755)
        script = Path(shutil.copy(SCRIPT, folder / SCRIPT.name))
        script.chmod(0o755)
    return subprocess.run([*user, str(script), *args], capture_output=True, text=True, env=env)


def owner(path: str) -> str:
    """The Debian package that installed ``path``."""
    return subprocess.run(["dpkg", "-S", path], capture_output=True, text=True, check=True).stdout.split(":")[0]


def test_the_list_holds_the_packages_of_what_the_tests_run():
    listed = run("--list").stdout.split()
    words = re.findall(r'"\w\w": \("[\w-]+", "(\w+)"\)', (REPO / "scripts" / "labelled_names.py").read_text())
    assert len(words) == 5 and set(words) <= set(listed)
    # The page's test runs these two programs; the PostgreSQL test, the server of the postgresql package.
    browser = [owner(os.path.realpath(shutil.which(name))) for name in ("chromium", "chromedriver")]
    assert browser == ["chromium", "chromium-driver"] and set(browser) <= set(listed)
    assert "postgresql" in listed and len(listed) == len(set(listed)) == 8


def test_check_and_install_say_what_is_missing_and_the_command_to_run(tmp_path):
    assert run("--check").returncode == 0  # `make test` installed them
    empty = tmp_path / "dpkg"  # a dpkg database of a machine with nothing installed
    empty.mkdir()
    (empty / "status").touch()
    listed = " ".join(run("--list").stdout.split())
    checked = run("--check", admindir=empty)
    assert checked.returncode == 1 and checked.stderr == f"system_packages.sh: missing: {listed}\n"
    # Not root: nothing installed, and one line with the command to run.
    unprivileged = run(admindir=empty, as_nobody=True)
    assert unprivileged.returncode == 1
    assert unprivileged.stderr == (
        f"system_packages.sh: the tests need {listed}; run: sudo apt-get install -y {listed}\n"
    )
    assert run("--bogus").returncode == 2
