"""Build the small word lists of docs/finetune.md from installed packages (no data set is committed).

    pip install -e ".[data]"             # Faker (MIT): names, surnames, Italian towns
    apt-get install -y wfrench           # Debian's French word list, /usr/share/dict/french
    python scripts/finetune_lists.py --sizes 200 800 3000   # data/finetune/<kind>_<size>.txt

Every list is lowercase, letters only (accented ones included), at most 15 characters: the longest
word that names.txt's Transformer has positions for, so every model of the series can fine-tune on
them. The lists of one kind are nested: each size is the first words of one shuffle (seed 42), so a
larger list holds the smaller ones.

Kinds (``--kinds``):

- ``is_first_names``: Faker's Icelandic first names (``faker/providers/person/is_IS``), 3,742 of them;
- ``surnames``: Faker's surnames of every locale written in Latin letters, pooled;
- ``fr_words``: Debian's French word list (``wfrench``), capitalised words (proper nouns) left out;
- ``it_towns``: Faker's Italian towns (``faker/providers/address/it_IT``), one-word names: far from names;
- ``de_first_names``, ``it_surnames``: the two lists of the first comparison in docs/finetune.md, whole.

Development kinds, on whose validation splits the recipe's rule by list size was chosen (none of their
words is in the four kinds above): ``es_first_names`` (Faker's Spanish first names), ``nl_towns``
(Faker's Dutch towns, one-word), ``de_words`` (``wngerman``, lowercase words: no nouns) and ``it_words``
(``witalian``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import random
import unicodedata
from collections.abc import Callable
from pathlib import Path

import faker.providers.person
from faker.providers.address.it_IT import Provider as ItalianAddresses
from faker.providers.address.nl_NL import Provider as DutchAddresses
from faker.providers.person.de_DE import Provider as GermanNames
from faker.providers.person.es_ES import Provider as SpanishNames
from faker.providers.person.is_IS import Provider as IcelandicNames
from faker.providers.person.it_IT import Provider as ItalianNames

from makemore_pl.data.files import write_atomic

LONGEST = 15


def usable(word: str) -> bool:
    return word.isalpha() and word == word.lower() and len(word) <= LONGEST


def latin(word: str) -> bool:
    return all(unicodedata.name(c, "").startswith("LATIN") for c in word)


def lowered(words: object) -> list[str]:
    """The usable words of a Faker list (a tuple, or a dict of weights), lowercased, sorted, once each."""
    return sorted({w.lower() for w in words if usable(w.lower())})


def icelandic_first_names(_: argparse.Namespace) -> list[str]:
    return lowered(IcelandicNames.first_names)


def surnames(_: argparse.Namespace) -> list[str]:
    """Faker's surnames of every locale, those in Latin letters: no locale has 3,000 of its own."""
    pooled: set[str] = set()
    for module in pkgutil.iter_modules(faker.providers.person.__path__):
        provider = importlib.import_module(f"faker.providers.person.{module.name}").Provider
        pooled |= {w for w in lowered(getattr(provider, "last_names", ())) if latin(w)}
    return sorted(pooled)


def dictionary_words(path: Path) -> list[str]:
    """A Debian word list's words; a capitalised word (a proper noun, a German noun) is not ``usable``."""
    return sorted({line.strip() for line in path.read_text(encoding="utf-8").splitlines() if usable(line.strip())})


def french_words(args: argparse.Namespace) -> list[str]:
    return dictionary_words(args.dict)


def italian_towns(_: argparse.Namespace) -> list[str]:
    return lowered(ItalianAddresses.cities)


def german_first_names(_: argparse.Namespace) -> list[str]:
    return lowered((*GermanNames.first_names_female, *GermanNames.first_names_male))


def italian_surnames(_: argparse.Namespace) -> list[str]:
    return lowered(ItalianNames.last_names)


def spanish_first_names(_: argparse.Namespace) -> list[str]:
    return lowered(SpanishNames.first_names)


def dutch_towns(_: argparse.Namespace) -> list[str]:
    return lowered(DutchAddresses.cities)


def german_words(_: argparse.Namespace) -> list[str]:
    return dictionary_words(Path("/usr/share/dict/ngerman"))


def italian_words(_: argparse.Namespace) -> list[str]:
    return dictionary_words(Path("/usr/share/dict/italian"))


KINDS: dict[str, Callable[[argparse.Namespace], list[str]]] = {
    "is_first_names": icelandic_first_names,
    "surnames": surnames,
    "fr_words": french_words,
    "it_towns": italian_towns,
    "de_first_names": german_first_names,
    "it_surnames": italian_surnames,
    "es_first_names": spanish_first_names,
    "nl_towns": dutch_towns,
    "de_words": german_words,
    "it_words": italian_words,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/finetune"))
    parser.add_argument("--dict", type=Path, default=Path("/usr/share/dict/french"))
    parser.add_argument("--kinds", nargs="+", default=list(KINDS)[:4], choices=list(KINDS))
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 800, 3000], help="words per list (0: all)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for kind in args.kinds:
        words = KINDS[kind](args)
        random.Random(args.seed).shuffle(words)
        for size in args.sizes:
            if size > len(words):
                parser.error(f"--sizes {size}: {kind} has only {len(words)} words")
            chosen = sorted(words[: size or len(words)])
            path = args.out / f"{kind}_{size or len(words)}.txt"
            write_atomic(path, ("\n".join(chosen) + "\n").encode())
            print(f"{path}: {len(chosen)} words, characters {''.join(sorted(set(''.join(chosen))))}")


if __name__ == "__main__":
    main()
