"""Build the labelled name sets of docs/labels.md from installed packages, into data/ (never committed).

    python scripts/labelled_names.py                  # all four sets into data/
    python scripts/labelled_names.py --out /tmp/sets --sets language gender

Each set is written twice, in the two layouts `WordsDataModule` reads:
  data/<set>.tsv          one `word<TAB>label` per line (`--data.labelled true`)
  data/<set>/<label>.txt  one word per line, the PyTorch tutorial's `data/names/<Language>.txt` layout

The sets:
  names_by_language  first names of 14 Latin-script Faker locales, labelled by language (en, fr, de, ...)
  names_by_gender    Faker's first_names_male against first_names_female, pooled over every locale with both
  surnames_by_language  Faker's surnames of one Latin-script locale per language: the task of PyTorch's tutorial
                     "Classifying Names with a Character-Level RNN" (its 18 languages' lists are not installed)
  words_by_language  Debian's word lists (wamerican, wfrench, wngerman, witalian, wspanish): a seeded sample
                     of each language's dictionary words

Why first names, not surnames, for the language set: every Faker locale keeps its first names under the
same attributes (first_names_male, first_names_female, first_names), while surnames sit under names of
each locale's own (pl_PL's unisex_last_names, cs_CZ's last_names_male) or are too few (tr_TR has 61);
and first names are what names.txt holds, the words the shipped configs were tuned on.

Normalisation, the same for every set: NFC, lowercase (Turkish dotted capital I becomes "i", not "i" plus
a combining dot), and only words made of Latin letters are kept, accents included: the accents are the
languages' own letters (ç, ß, ø, ł, ş), and the models' vocabulary is decided by the data, so they cost
nothing. A name with a space, hyphen, apostrophe or dot ("jean-pierre", "d'angelo") is dropped, not
split: its parts are not names of their own. Pairs (word, label) are deduplicated; a word under two labels
("maria" in es and it, "andrea" male in it and female in de) is a real ambiguity and keeps both lines.
A label with fewer than --min_words words is dropped, and the script says so: below 200, its 10% test
share would be under 20 words and its accuracy a coin of a few words.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import random
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import faker.providers.person

from makemore_pl.data.files import write_atomic
from makemore_pl.errors import UsageError

REPO = Path(__file__).resolve().parents[1]

# One locale per language, Latin script; the label is the language's ISO 639-1 code.
LANGUAGE_LOCALES = [
    "en_US",
    "fr_FR",
    "de_DE",
    "it_IT",
    "es_ES",
    "pt_BR",
    "nl_NL",
    "pl_PL",
    "sv_SE",
    "fi_FI",
    "cs_CZ",
    "tr_TR",
    "hu_HU",
    "ro_RO",
]
FIRST_NAME_LISTS = ("first_names_male", "first_names_female", "first_names")
GENDER_LISTS = {"male": "first_names_male", "female": "first_names_female"}
# Surnames: every list whose attribute names them (last_names, last_names_male, unisex_last_names, ...), of the
# first names' locales and the other Latin-script ones with a surname list; a label under --min_words is dropped.
SURNAME_LOCALES = [*LANGUAGE_LOCALES, "da_DK", "no_NO", "sk_SK", "hr_HR", "sl_SI", "lt_LT", "lv_LV", "et_EE", "vi_VN"]

# Debian's word lists: the file in /usr/share/dict, and the package that installs it.
DICTIONARIES = {
    "en": ("american-english", "wamerican"),
    "fr": ("french", "wfrench"),
    "de": ("ngerman", "wngerman"),
    "it": ("italian", "witalian"),
    "es": ("spanish", "wspanish"),
}
DICT_DIR = Path("/usr/share/dict")

Pairs = list[tuple[str, str]]


def normalise(name: str) -> str | None:
    """The name as the sets hold it, or None where it is not one word of Latin letters."""
    word = unicodedata.normalize("NFC", name.strip().replace("İ", "i")).lower()
    if not word or not word.isalpha():
        return None  # a space, hyphen, apostrophe, dot or digit
    if not all(unicodedata.name(c, "").startswith("LATIN") for c in word):
        return None  # another script: Cyrillic, Greek, CJK, ...
    return word


def provider(locale: str) -> type:
    """Faker's person Provider class of ``locale``: its name lists are class attributes."""
    return importlib.import_module(f"faker.providers.person.{locale}").Provider


def names(cls: type, attribute: str) -> list[str]:
    """One of the provider's lists: a tuple, a list, or an OrderedDict of names to weights (its keys)."""
    return list(getattr(cls, attribute, ()))


def person_locales() -> list[str]:
    """Every locale that Faker ships a person provider for."""
    return sorted(m.name for m in pkgutil.iter_modules(faker.providers.person.__path__) if m.ispkg)


def labelled(raw: Iterable[tuple[str, str]]) -> tuple[Pairs, int]:
    """The normalised, deduplicated (word, label) pairs in first-seen order, and how many names were dropped."""
    pairs: dict[tuple[str, str], None] = {}
    dropped = 0
    for name, label in raw:
        word = normalise(name)
        if word is None:
            dropped += 1
        else:
            pairs[word, label] = None
    return list(pairs), dropped


def names_by_language() -> tuple[Pairs, int]:
    return labelled(
        (name, locale.split("_")[0])
        for locale in LANGUAGE_LOCALES
        for attribute in FIRST_NAME_LISTS
        for name in names(provider(locale), attribute)
    )


def surnames_by_language() -> tuple[Pairs, int]:
    raw = []
    for locale in SURNAME_LOCALES:
        cls = provider(locale)
        for attribute in sorted(name for name in dir(cls) if "last_name" in name and not name.startswith("_")):
            group = getattr(cls, attribute)
            if isinstance(group, (list, tuple, dict)):
                raw += [(name, locale.split("_")[0]) for name in group if isinstance(name, str)]
    return labelled(raw)


def names_by_gender() -> tuple[Pairs, int]:
    raw = []
    for locale in person_locales():
        cls = provider(locale)
        lists = {label: names(cls, attribute) for label, attribute in GENDER_LISTS.items()}
        if all(lists.values()):  # only the locales with both lists
            raw += [(name, label) for label, group in lists.items() for name in group]
    return labelled(raw)


def words_by_language(per_language: int, seed: int) -> tuple[Pairs, int]:
    raw = []
    for label, (file, package) in DICTIONARIES.items():
        path = DICT_DIR / file
        if not path.is_file():
            raise UsageError(f"{path} is missing: install it with `apt-get install {package}`")
        raw += [(line, label) for line in path.read_text(encoding="utf-8").splitlines()]
    pairs, dropped = labelled(raw)
    # Whole dictionaries hold 86k-356k words: a seeded sample of each keeps the set the size of names.txt.
    rng = random.Random(seed)
    sample = []
    for label in DICTIONARIES:
        words = [pair for pair in pairs if pair[1] == label]
        sample += rng.sample(words, min(per_language, len(words)))
    return sample, dropped


def drop_small(pairs: Pairs, min_words: int, name: str) -> Pairs:
    counts = Counter(label for _, label in pairs)
    small = {label: n for label, n in counts.items() if n < min_words}
    for label, n in sorted(small.items()):
        print(f"{name}: dropped label {label!r}: {n} words, fewer than --min_words {min_words}", file=sys.stderr)
    return [pair for pair in pairs if pair[1] not in small]


def write_set(pairs: Pairs, out: Path, name: str) -> None:
    """The TSV and the folder of <label>.txt files; each file is replaced atomically."""
    write_atomic(out / f"{name}.tsv", "".join(f"{word}\t{label}\n" for word, label in pairs).encode())
    folder = out / name
    labels = sorted({label for _, label in pairs})
    for label in labels:
        text = "".join(f"{word}\n" for word, other in pairs if other == label)
        write_atomic(folder / f"{label}.txt", text.encode())
    for stale in folder.glob("*.txt"):  # a label an earlier run kept and this one dropped
        if stale.stem not in labels:
            stale.unlink()


def report(pairs: Pairs, dropped: int, name: str) -> None:
    counts = Counter(label for _, label in pairs)
    by_word = Counter(word for word, _ in pairs)
    ambiguous = sum(1 for n in by_word.values() if n > 1)
    print(
        f"{name}: {len(pairs)} (word, label) pairs, {len(by_word)} distinct words ({ambiguous} under several "
        f"labels), {len(counts)} labels; {dropped} names dropped by normalisation"
    )
    for label, n in sorted(counts.items()):
        print(f"  {label}\t{n}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "data", help="folder to write the sets into")
    sets = ["language", "gender", "surnames", "words"]
    parser.add_argument("--sets", nargs="+", choices=sets, default=sets, help="which sets to build")
    parser.add_argument("--min_words", type=int, default=200, help="drop a label with fewer words than this")
    parser.add_argument("--words_per_language", type=int, default=6000, help="dictionary words sampled per language")
    parser.add_argument("--seed", type=int, default=42, help="seed of the dictionary sample")
    args = parser.parse_args(argv)
    builders = {
        "language": ("names_by_language", names_by_language),
        "gender": ("names_by_gender", names_by_gender),
        "surnames": ("surnames_by_language", surnames_by_language),
        "words": ("words_by_language", lambda: words_by_language(args.words_per_language, args.seed)),
    }
    for key in args.sets:
        name, build = builders[key]
        pairs, dropped = build()
        pairs = drop_small(pairs, args.min_words, name)
        write_set(pairs, args.out, name)
        report(pairs, dropped, name)


if __name__ == "__main__":
    try:
        main()
    except UsageError as e:
        sys.exit(f"labelled_names.py: error: {e}")
