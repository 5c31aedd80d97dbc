"""Searching `makemore-pl fit`'s options with Optuna: the search space (search_space.py), the study and its
storages (studies.py), one trial (objective.py) and the results table (report.py). The command is
makemore_pl.cli.tune (`makemore-pl tune`)."""
