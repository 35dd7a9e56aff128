"""Exceptions that mean "the user asked for something wrong", as opposed to a bug in hg_jax.

The CLIs (hg_jax/cli.py) print a ``UserError`` as one line and exit 2; anything else keeps its
traceback. Each class also derives from the builtin a caller would have caught before, so
``except ValueError`` / ``except FileNotFoundError`` keep working.
"""
from __future__ import annotations


class UserError(Exception):
    """Bad input: a flag, a config value, a path, a data file. Message: what (where): what is allowed."""


class ConfigError(UserError, ValueError):
    """An invalid config value (hg_jax/config.py validates up front)."""


class DataNotFound(UserError, FileNotFoundError):
    """A data file or folder the user pointed at (or the default location) does not exist."""


class DataError(UserError, ValueError):
    """A data file exists but is not in the expected format, or a requested item is not in it."""


class UsageError(UserError):
    """A bad command line: unknown flag, missing argument, a path of the wrong kind."""


class DataKeyError(DataError, KeyError):
    """A data file lacks a variable / dataset / array it must hold (still a KeyError for callers)."""

    def __str__(self):   # KeyError quotes its message; this one is a sentence
        return str(self.args[0]) if self.args else ""
