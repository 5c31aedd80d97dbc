"""scripts/labelled_names.py, run as documented, on the installed Faker and Debian word lists."""

import subprocess
import sys
from collections import Counter

from conftest import REPO

SETS = {
    "names_by_language": 8,
    "names_by_gender": 2,
    "surnames_by_language": 8,
    "words_by_language": 5,
}  # the fewest labels each may have


def test_the_script_writes_both_layouts_of_every_set(tmp_path):
    script = REPO / "scripts" / "labelled_names.py"
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path), "--words_per_language", "300"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "names_by_language: dropped label 'pl': " in done.stderr  # 152 names, under --min_words 200

    for name, fewest in SETS.items():
        lines = (tmp_path / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
        pairs = [tuple(line.split("\t")) for line in lines]
        assert all(len(pair) == 2 and all(pair) for pair in pairs), name  # word TAB label, neither empty
        assert len(set(pairs)) == len(pairs), name
        assert all(word.isalpha() and word == word.lower() for word, _ in pairs), name
        counts = Counter(label for _, label in pairs)
        assert len(counts) >= fewest, name
        assert min(counts.values()) >= 200, name  # 20 or more words of each label in val and in test
        assert f"{name}: {len(pairs)} (word, label) pairs" in done.stdout

        # The folder layout holds the same pairs, one <label>.txt per label.
        folder = {p.stem: p.read_text(encoding="utf-8").splitlines() for p in (tmp_path / name).glob("*.txt")}
        assert sorted((w, label) for label, words in folder.items() for w in words) == sorted(pairs), name

    gender = (tmp_path / "names_by_gender.tsv").read_text(encoding="utf-8").splitlines()
    assert {line.split("\t")[1] for line in gender} == {"female", "male"}
    assert {"jordan\tmale", "jordan\tfemale"} <= set(gender)  # an ambiguous name keeps both labels
