"""The ``tuner`` command and the plumbing its subcommands share.

Every subcommand is declared once, in :data:`COMMANDS`; ``tuner NAME ...`` and
``python -m tuner.NAME ...`` run the same ``main(argv)``. User mistakes become one line on
stderr and exit status 2; nothing else is swallowed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from tuner.errors import INTERRUPTED_EXIT_CODE, USER_ERROR_EXIT_CODE, SearchInterrupted, TunerError

__all__ = ["COMMANDS", "MESSAGE_WIDTH", "ArgumentParser", "fit_line", "main", "run_main"]

#: The longest error line printed (a wide terminal's line): longer values are cut.
MESSAGE_WIDTH = 200

#: ``tuner``'s subcommands: name -> (the module whose ``main(argv)`` runs it, one line of help).
COMMANDS: dict[str, tuple[str, str]] = {
    "search": ("tuner.search.__main__", "search training setups on a dataset (the main job; the demo without --data)"),
    "report": ("tuner.report.__main__", "write the HTML report of a run folder"),
    "data": ("tuner.data.__main__", "inspect a dataset folder before a search (data inspect DIR)"),
    "groupings": ("tuner.groupings.__main__", "suggest a class grouping from a finished search (groupings suggest RUN_DIR)"),
    "export": ("tuner.export.__main__", "export a trial's model for serving"),
    "predict": ("tuner.predict.__main__", "top-K labels of images from an exported model"),
}

# "tuner search" when the console script runs a subcommand; its parser shows that name.
_invoked_as: str | None = None


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose usage errors are one line and exit 2.

    The stock parser prints the whole usage block before the message; a user who typed one
    wrong flag needs the message and where to look, not the block.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _invoked_as and str(kwargs.get("prog", "")).startswith("python -m tuner."):
            kwargs["prog"] = _invoked_as
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(USER_ERROR_EXIT_CODE, fit_line(f"{self.prog}: error: {message} (see '{self.prog} --help')") + "\n")


def fit_line(message: str, width: int = MESSAGE_WIDTH) -> str:
    """``message`` on one line of at most ``width`` characters: whitespace runs become one
    space, quoted values over 50 characters are cut, then the middle if still too long (the
    start names the problem, the end the fix)."""
    import re

    line = " ".join(message.split())
    if len(line) <= width:
        return line

    def cut(m: re.Match[str]) -> str:
        q, body = m.group(1), m.group(2)
        return f"{q}{body[:30]}...{body[-12:]}{q}" if len(body) > 50 else m.group(0)

    line = re.sub(r"(['\"])([^'\"]{51,})\1", cut, line)
    if len(line) <= width:
        return line
    head = width * 3 // 5
    return f"{line[:head]} ... {line[-(width - head - 5) :]}"


def run_main(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``main(argv)`` and exit with its status; a ``TunerError`` prints one line, exit 2;
    an interrupt prints one line, exit 130."""
    try:
        status = main(argv)
    except TunerError as exc:
        print(fit_line(f"error: {exc}"), file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    except OSError as exc:
        # The user's filesystem said no (a path that is unreadable, a folder, full, read-only)
        # somewhere without a check of its own: still one line, naming the path. An OSError
        # without a path is not the user's input: it keeps its traceback.
        if exc.filename is None:
            raise
        from tuner._io import os_problem, short

        print(fit_line(f"error: {short(str(exc.filename))}: {os_problem(exc)}"), file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    except SearchInterrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT_CODE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT_CODE)
    sys.exit(0 if status is None else int(status))


def _usage() -> str:
    width = max(map(len, COMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items())
    return f"usage: tuner COMMAND [ARGS...]   (tuner COMMAND --help for its options)\n\ncommands:\n{rows}\n"


def _short_usage() -> str:
    """What ``tuner`` alone prints: the commands, and where to start, in two lines."""
    return (
        f"usage: tuner COMMAND [ARGS...]; commands: {', '.join(COMMANDS)}\n"
        "start with 'tuner search' (a demo search, no GPU or network needed); 'tuner --help' describes each command\n"
    )


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``tuner`` console script: ``tuner COMMAND ARGS...`` runs that command's ``main``."""
    global _invoked_as
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.stdout.write(_short_usage())
        sys.exit(0)
    if args[0] in ("-h", "--help"):
        sys.stdout.write(_usage())
        sys.exit(0)
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        sys.stderr.write(f"tuner: error: unknown command '{name}'; {hint}the commands are {', '.join(COMMANDS)} (see 'tuner --help')\n")
        sys.exit(USER_ERROR_EXIT_CODE)
    _invoked_as = f"tuner {name}"
    module = importlib.import_module(COMMANDS[name][0])
    run_main(module.main, rest)
