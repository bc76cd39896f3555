"""The `tinygrad-mnist` command: `main`, the parser wiring and the error policy.

Each command is a module with `add_parser(subparsers)` and `run(args)` (app/commands/);
it puts library pieces together, and only the commands print. The library does the work
and reports through return values and `logging`. A mistake in what the user typed or gave
(a bad option value, a missing or corrupt file) ends as one line on stderr and exit status
2; a bug in this program shows as one, with its traceback (app/errors.py says which is
which); Ctrl-C ends with status 130 after saying what was kept.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys

from tinygrad_mnist import __version__
from tinygrad_mnist.app.commands import (
    compare,
    evaluate,
    export,
    fetch,
    kfold,
    predict,
    report,
    search,
    show,
    studio,
    train,
)
from tinygrad_mnist.app.errors import (
    EXIT_DIVERGED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    UsageError,
    is_users_error,
    one_line,
)
from tinygrad_mnist.app.predict import DivergedModelError
from tinygrad_mnist.data.fetch import FetchError

# In the order `--help` lists them.
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `ls | head`'s ls

COMMANDS = (train, predict, evaluate, export, kfold, search, report, show, compare, fetch,
            studio)


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (no usage block), raised for `main` to report."""

    def error(self, message: str):
        raise UsageError(f"{message}{_closest(self, message)} (see '{self.prog} --help')")


def _closest(parser: argparse.ArgumentParser, message: str) -> str:
    """"; did you mean 'train'?" for a mistyped command or option, else ""."""
    import difflib

    choice = re.search(r"invalid choice: '([^']*)'", message)
    unknown = re.search(r"unrecognized arguments: (\S+)", message)
    if choice:
        names = [name for action in parser._actions
                 if isinstance(action, argparse._SubParsersAction) for name in action.choices]
        if not names:
            return ""
        typed = choice.group(1)
    elif unknown:
        names = list(parser._option_string_actions)
        for action in parser._actions:  # the commands' options too: the top parser reports
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    names += list(sub._option_string_actions)
        typed = unknown.group(1).split("=")[0]
    else:
        return ""
    match = difflib.get_close_matches(typed, names, n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `tinygrad-mnist` and all its commands."""
    parser = _Parser(
        prog=PROG,
        description="Train, search and inspect small neural networks on MNIST, with a "
                    "readable NumPy autograd framework.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options. "
               f"Start with '{PROG} train'.",
    )
    _add_common_options(parser, default=False)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = command.add_parser(subparsers)
        sub.set_defaults(handler=command.run)
        # `tinygrad-mnist train -q` as well as `tinygrad-mnist -q train`. SUPPRESS: left
        # out, they keep what the top level set instead of resetting it.
        _add_common_options(sub.add_argument_group("common options"), default=argparse.SUPPRESS)
    return parser


def _add_common_options(parser, default) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log more detail")
    parser.add_argument("-q", "--quiet", action="store_true", default=default,
                        help="log only warnings (no per-epoch lines)")
    parser.add_argument("--traceback", action="store_true", default=default,
                        help="on an error, show the full Python traceback (for bug reports)")


# Loggers whose INFO lines are the progress a user wants to see by default; the rest of
# the package (say, each data source tried in turn) speaks up at WARNING, or with -v.
_PROGRESS_LOGGERS = ("tinygrad_mnist.app.commands", "tinygrad_mnist.train",
                     "tinygrad_mnist.experiments", "tinygrad_mnist.data.fetch")


def _configure_logging(verbose: bool, quiet: bool) -> None:
    """Log lines of the package go to stderr as plain messages."""
    package_logger = logging.getLogger("tinygrad_mnist")
    for handler in list(package_logger.handlers):
        if getattr(handler, "_tinygrad_mnist_cli", False):
            package_logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._tinygrad_mnist_cli = True
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in _PROGRESS_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: `sys.argv[1:]`); returns the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    show_traceback = "--traceback" in argv
    if not argv:  # a bare `tinygrad-mnist`: what it can do, not an error
        parser.print_help()
        return 0
    args = None
    try:
        args = parser.parse_args(argv)
        _configure_logging(args.verbose, args.quiet)
        return args.handler(args) or 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as `ls | head` does. Python would
        # complain again flushing stdout at exit, so stdout goes to /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:
        if not is_users_error(error):
            print(f"{PROG}: internal error: this is a bug in {PROG}, not a mistake in what you "
                  "gave it; please report it with the traceback below", file=sys.stderr)
            raise
        if show_traceback:
            raise
        if isinstance(error, DivergedModelError):  # a run's model that diverged in training
            print(f"{PROG}: {one_line(error)}", file=sys.stderr)
            return EXIT_DIVERGED
        if isinstance(error, FetchError):  # every source tried, each once on its own line
            print(f"{PROG}: error: {str(error).strip()}", file=sys.stderr)
            return EXIT_USAGE
        message = one_line(error)
        if message.startswith("root: ") and getattr(args, "data_root", None) is not None:
            # The library calls it `root`; the user typed --data-root.
            message = "argument --data-root: " + message.removeprefix("root: ")
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
