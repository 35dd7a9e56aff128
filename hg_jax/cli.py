"""What every command line of hg_jax shares: paths resolved at the edge, and one-line user errors.

A CLI's entry point is one call; its own code raises ``hg_jax.errors.UserError`` (or a subclass)
for anything the user got wrong and never formats errors itself::

    from hg_jax import cli

    def main(argv):                           # argparse CLI
        ap = cli.ArgumentParser(prog="python -m hg_jax.thing")
        ap.add_argument("--workdir", type=cli.path)
        args = ap.parse_args(argv)
        ...

    if __name__ == "__main__":
        cli.main(main)                        # absl CLI: cli.main(main, absl_flags=True)

``cli.main`` strips ``--verbose`` from argv, runs ``fn(argv_without_program)`` (or, for absl, parses
the flags first and calls ``fn(remaining_argv)`` like ``app.run``) and turns a ``UserError`` into
``error: <what> (<where>): <what is allowed>`` on stderr with exit code 2. Any other exception is a
bug and keeps its traceback; ``--verbose`` shows the traceback of a user error too.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from hg_jax.errors import UsageError, UserError

EXIT_USER_ERROR = 2


def path(p: str) -> str:
    """A path from the command line or a config, as the user meant it: ``~`` expanded, absolute
    (relative to the current directory). Empty stays empty (it means "the default" in configs)."""
    return os.path.abspath(os.path.expanduser(p)) if p else p


def workdir(p: str, flag: str = "--workdir") -> str:
    """``path(p)`` for a run directory: it may not exist yet, but it may not be a file."""
    out = path(p)
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"{flag} is a file ({out}): allowed a directory, new or holding a run")
    return out


def existing_dir(p: str, flag: str) -> str:
    out = path(p)
    if not os.path.isdir(out):
        what = "is a file" if os.path.exists(out) else "does not exist"
        raise UsageError(f"{flag} {what} ({out}): allowed an existing directory")
    return out


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one-line user errors instead of usage + exit 2 from inside parse."""

    def error(self, message):
        raise UsageError(f"{message} ({self.prog}): see {self.prog} --help")


def _absl_message(e: BaseException, argv: list[str]) -> str:
    """Flag parsing wraps config-file errors (often twice); report the innermost meaningful one."""
    chain, seen = [e], {id(e)}
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and id(nxt) not in seen:
        chain.append(nxt)
        seen.add(id(nxt))
    for err in reversed(chain):   # ml_collections re-raises with the traceback pasted into the text
        if isinstance(err, UserError):
            return str(err)
    deepest = chain[-1]
    if isinstance(deepest, (KeyError, AttributeError)):   # a --config.<field> that the config lacks
        field = str(deepest.args[0] if deepest.args else deepest).strip("'\"")
        bad = [a for a in argv if a.startswith("--config.") and
               a.split("=", 1)[0].split(".")[-1] == field]
        where = bad[0] if bad else "--config.*"
        return f"unknown config field {field!r} ({where}): allowed the fields the config file defines"
    text = str(deepest).strip().splitlines()
    return text[-1] if text else type(deepest).__name__


def main(fn, argv: list[str] | None = None, absl_flags: bool = False):
    """Run a CLI entry point ``fn(argv)``; user errors become one line and exit code 2."""
    argv = list(sys.argv if argv is None else argv)
    verbose = "--verbose" in argv[1:]
    argv = [argv[0]] + [a for a in argv[1:] if a != "--verbose"]
    try:
        if absl_flags:
            from absl import flags

            try:
                rest = flags.FLAGS(argv)
            except Exception as e:   # the config file is user input: anything it raises is a user error
                raise UsageError(_absl_message(e, argv)) from e
            result = fn(rest)
        else:
            result = fn(argv[1:])
    except UserError as e:
        if verbose:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    sys.exit(result if isinstance(result, int) else 0)
