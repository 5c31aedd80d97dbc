"""One table of commands: cli.main.COMMANDS, `makemore-pl --help` and docs/usage.md name the same ones."""

import importlib
import re

import pytest
from conftest import REPO

from makemore_pl.cli.main import COMMANDS, cli_main


def test_the_table_the_help_and_the_docs_name_the_same_commands(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    # LightningCLI lists its own subcommands ({fit,validate,test,predict}); the description names every command.
    helped = set(re.findall(r"(\w+):\s", text.split("Commands:", 1)[1].split("Each takes --help", 1)[0]))
    listed = re.search(r"\{([a-z,]+)\}", text).group(1).split(",")
    documented = re.findall(r"^\| `makemore-pl (\w+)` \|", (REPO / "docs" / "usage.md").read_text(), re.M)
    assert helped == set(COMMANDS) == set(documented)
    assert len(documented) == len(COMMANDS)
    assert set(listed) == {name for name, command in COMMANDS.items() if command.target.endswith("trainer:run_cli")}


@pytest.mark.parametrize("name", [name for name in COMMANDS if name not in ("fit", "validate", "test", "predict")])
def test_each_command_of_the_table_runs_its_own_help(name, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main([name, "--help"])
    assert exit_.value.code == 0
    assert "--" in capsys.readouterr().out  # its own parser's options


def test_the_old_console_scripts_stay_as_aliases_of_the_subcommands():
    # pyproject.toml's own table: an installed copy's metadata may be older than the tree under test.
    scripts = dict(re.findall(r'^(makemore-pl[-\w]*) = "([\w.:]+)"$', (REPO / "pyproject.toml").read_text(), re.M))
    assert scripts["makemore-pl"] == "makemore_pl.cli.main:cli_main"
    for alias, name in (("makemore-pl-tune", "tune"), ("makemore-pl-lr", "lr")):
        # The alias lives beside the subcommand's function, in the command's own module under cli/.
        module, function = scripts[alias].split(":")
        assert module == COMMANDS[name].target.split(":")[0]
        assert callable(getattr(importlib.import_module(module), function))
