"""Shared plumbing for the ``python -m tuner.X`` entry points.

User mistakes become one line on stderr and exit status 2; nothing else is swallowed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from tuner.errors import INTERRUPTED_EXIT_CODE, USER_ERROR_EXIT_CODE, SearchInterrupted, TunerError

__all__ = ["ArgumentParser", "run_main"]


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose usage errors are one line and exit 2.

    The stock parser prints the whole usage block before the message; a user who typed one
    wrong flag needs the message and where to look, not the block.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(
            USER_ERROR_EXIT_CODE,
            f"{self.prog}: error: {message} (see '{self.prog} --help')\n",
        )


def run_main(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``main(argv)`` and exit with its status; a ``TunerError`` prints one line, exit 2;
    an interrupt prints one line, exit 130."""
    try:
        status = main(argv)
    except TunerError as exc:
        message = " ".join(str(exc).split("\n")).strip()
        print(f"error: {message}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    except SearchInterrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT_CODE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT_CODE)
    sys.exit(0 if status is None else int(status))
