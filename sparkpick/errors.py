"""The two kinds of failure the command line tells apart (exit status 2 versus 1)."""


class SparkpickError(Exception):
    """Something went wrong that is not the user's input (exit status 1)."""


class InputError(SparkpickError):
    """The user's input is wrong: a file, row, column or argument (exit status 2)."""
