"""The commands' parsers, with jsonargparse's errors said in one line that names the option.

jsonargparse reports a value it cannot parse with the whole usage (a hundred lines) and an indented
tree of every type it tried. The project's rule for bad input is one line naming the option; the
tree has what that line needs: the parser keys from the outside in, the type expected, and the value
given. ``one_line`` takes them out, and the parsers here raise it as a ``UsageError``, which the
command prints as every other bad input: ``OneLineErrors`` is LightningCLI's (fit, validate, test,
predict, tune, lr), ``CommandParser`` the other commands' (score, export). ``JSONARGPARSE_DEBUG=1``
still gives the full error.
"""

from __future__ import annotations

import os
import re
from typing import NoReturn

from jsonargparse import ArgumentParser
from lightning.pytorch.cli import LightningArgumentParser

from makemore_pl.errors import UsageError

KEY = re.compile(r'Parser key "([^"]+)"')
NOT_ACCEPTED = re.compile(r"Option '([^']+)' is not accepted")
CLASS_PATH = re.compile(r"given class_path '([^']+)'")
EXPECTED = re.compile(r"Expected a (?:<class '([^']+)'>|typing\.Literal\[(.*?)\])")
VALUE = re.compile(r"(?:Got value|Given value): (?:NestedArg\(key='[^']*', val=(.*)\)|(.*))$", re.MULTILINE)
# What a key names that the user does not write: a class's own arguments sit under init_args.
STRUCTURAL = {"init_args", "dict_kwargs"}


def one_line(message: str) -> str:
    """jsonargparse's error ``message`` as one line: ``--option: what was expected, got value``."""
    keys = [key for key in KEY.findall(message) if key not in STRUCTURAL]
    refused = NOT_ACCEPTED.search(message)
    if refused:
        keys.append(refused.group(1))
    option = "--" + ".".join(keys) if keys else None
    if refused:
        owner = CLASS_PATH.search(message)
        reason = f"no such option{' for ' + owner.group(1) if owner else ''}"
    else:
        reason = _expected(message) or _first_reason(message)
    values = VALUE.findall(message)  # the last is the outermost: the value as the command line gave it
    given = (values[-1][0] or repr(values[-1][1])) if values and not refused else None
    parts = [reason] if reason else []
    if given is not None:
        parts.append(f"got {given}")
    text = ", ".join(parts) or " ".join(message.split())
    return f"{option}: {text}" if option else text


def _expected(message: str) -> str | None:
    """What was expected: every choice of the Literals (``expected one of 'a', 'b'``), else the first type
    that is not None (``expected int``)."""
    found = EXPECTED.findall(message)
    choices = [literal for _, literal in found if literal]
    if choices:
        return f"expected one of {', '.join(choices)}"
    return next((f"expected {name.rsplit('.', 1)[-1]}" for name, _ in found if name and name != "NoneType"), None)


def _first_reason(message: str) -> str | None:
    """The text after the innermost ``Parser key "...":``, on its line or the next, for other errors."""
    tail = KEY.split(message)[-1].lstrip(":").strip()
    first = next((line.strip(" -") for line in tail.splitlines() if line.strip(" -")), "")
    return first or None


class OneLineErrorMixin:
    """A jsonargparse parser's ``error``: when it would print the usage and exit, a ``UsageError`` of one line."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error or os.environ.get("JSONARGPARSE_DEBUG"):
            super().error(message, ex)  # raises: a caller is trying alternatives, or someone is debugging
        raise UsageError(one_line(message)) from ex


class OneLineErrors(OneLineErrorMixin, LightningArgumentParser):
    """LightningCLI's parser, its errors one line."""


class CommandParser(OneLineErrorMixin, ArgumentParser):
    """A `makemore-pl <command>` parser outside LightningCLI, its errors one line."""
