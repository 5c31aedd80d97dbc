"""The `makemore-pl` commands: one module per command, dispatched from one table (main.COMMANDS).

- main.py: the table and `makemore-pl`'s entry point;
- trainer.py: fit, validate, test and predict (LightningCLI); arguments.py completes their command line
  from a checkpoint, run_config.py saves their config and resumes a run in place;
- score.py, export.py, tune.py, lr.py: the other commands (serve's is makemore_pl.serve.server).
"""

from makemore_pl.cli.main import COMMANDS, cli_main
from makemore_pl.cli.trainer import MakemoreCLI, run_cli

__all__ = ["COMMANDS", "MakemoreCLI", "cli_main", "run_cli"]
