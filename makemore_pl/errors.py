"""The one exception type that the command line turns into a one-line error instead of a traceback."""


class UsageError(Exception):
    """Bad input from the user: a file, a line of it or an option. The message says which, and what to do."""
