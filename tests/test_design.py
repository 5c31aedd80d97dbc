"""docs/design.md's module table names every module of the package, and only modules that exist."""

import re

from conftest import REPO

PACKAGE = REPO / "makemore_pl"
DESIGN = REPO / "docs" / "design.md"


def package_modules() -> set[str]:
    """Every module of the package as a path under makemore_pl/, package ``__init__.py`` files aside."""
    return {str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"}


def table_modules() -> list[str]:
    """The first column of the module table: one module per row."""
    section = DESIGN.read_text().split("## Modules", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+\.py)` \|", section, flags=re.M)


def test_the_table_names_every_module_once_and_no_other():
    named = table_modules()
    assert len(named) == len(set(named)), sorted({m for m in named if named.count(m) > 1})
    missing = package_modules() - set(named)
    assert not missing, f"modules missing from docs/design.md's table: {sorted(missing)}"
    gone = set(named) - package_modules()
    assert not gone, f"docs/design.md's table names modules that do not exist: {sorted(gone)}"
