"""docs/design.md's module table names every module of the package, and only modules that exist."""

import re
from pathlib import Path

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


def drawn_layers() -> list[list[str]]:
    """The layers of the drawing under "## The layers", top first: the packages (``x/``) and modules of each.

    A layer is the lines between two ``|`` lines; each line names its packages and modules, then
    (after a wide gap) says what they are.
    """
    drawing = DESIGN.read_text().split("## The layers", 1)[1].split("```", 2)[1]
    layers: list[list[str]] = [[]]
    for line in drawing.strip().splitlines():
        if line.strip() == "|":
            layers.append([])
        else:
            names = re.split(r"\s{3,}", line.strip())[0].split()
            layers[-1] += [name for name in names if re.fullmatch(r"[a-z_]+/|[a-z_]+\.py", name)]
    return layers


def layer_of(module: str, layers: list[list[str]]) -> int | None:
    """The index of the layer that draws ``module`` (a path under makemore_pl/), or None."""
    for i, names in enumerate(layers):
        if any(module == name or (name.endswith("/") and module.startswith(name)) for name in names):
            return i
    return None


def test_every_module_sits_in_a_layer_and_imports_none_drawn_above_it():
    import test_shape

    layers = drawn_layers()
    path_of = {name: str(path.relative_to(PACKAGE)) for name, path in test_shape.MODULES.items()}
    upward = []
    for name, path in path_of.items():
        if Path(path).name in ("__init__.py", "__main__.py"):
            continue
        own = layer_of(path, layers)
        assert own is not None, f"{path} is in no layer of docs/design.md's drawing"
        for target in test_shape.imported(name):
            theirs = layer_of(path_of[target], layers)
            if theirs is not None and theirs < own:
                upward.append(f"{path} imports {path_of[target]}")
    assert not upward, upward
