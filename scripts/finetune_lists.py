"""Build the two small word lists of docs/finetune.md from installed packages (no data set is committed).

    pip install -e ".[data]"             # Faker (MIT): its Italian surnames
    apt-get install -y wfrench           # Debian's French word list, /usr/share/dict/french
    python scripts/finetune_lists.py     # writes data/it_surnames.txt, data/de_first_names.txt, data/fr_words.txt

Both lists are lowercase, letters only (accented ones included), at most 15 characters: the longest
word that names.txt's Transformer has positions for, so every model of the series can fine-tune on them.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from faker.providers.person.de_DE import Provider as GermanNames
from faker.providers.person.it_IT import Provider as ItalianNames

from makemore_pl.data.files import write_atomic

LONGEST = 15


def usable(word: str) -> bool:
    return word.isalpha() and word == word.lower() and len(word) <= LONGEST


def italian_surnames() -> list[str]:
    """Faker's it_IT surnames (faker/providers/person/it_IT/__init__.py), lowercased."""
    return sorted({name.lower() for name in ItalianNames.last_names if usable(name.lower())})


def german_first_names() -> list[str]:
    """Faker's de_DE first names, female and male (faker/providers/person/de_DE/__init__.py), lowercased."""
    names = (*GermanNames.first_names_female, *GermanNames.first_names_male)
    return sorted({name.lower() for name in names if usable(name.lower())})


def french_words(path: Path, count: int, seed: int) -> list[str]:
    """``count`` words of Debian's French list, sampled with ``seed``; proper nouns (capitalised) left out."""
    words = sorted({line.strip() for line in path.read_text(encoding="utf-8").splitlines() if usable(line.strip())})
    return sorted(random.Random(seed).sample(words, count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data"))
    parser.add_argument("--dict", type=Path, default=Path("/usr/share/dict/french"))
    parser.add_argument("--count", type=int, default=1000, help="French words to sample")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, words in (
        ("it_surnames.txt", italian_surnames()),
        ("de_first_names.txt", german_first_names()),
        ("fr_words.txt", french_words(args.dict, args.count, args.seed)),
    ):
        write_atomic(args.out / name, ("\n".join(words) + "\n").encode())
        print(f"{args.out / name}: {len(words)} words, characters {''.join(sorted(set(''.join(words))))}")


if __name__ == "__main__":
    main()
