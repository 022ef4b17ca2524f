"""The one place that defines what can go wrong in ``tuner``.

``TunerError`` is the base. Its subclasses ``ConfigError`` and ``DataError`` are *user*
errors: the command-line entry points print their message as one line and exit with status 2,
never with a traceback. Every message states the rule that was broken, the value received and
the fix, e.g. ``"--data 'x' is not a directory; pass the folder that holds your class
folders"``.

``TrialFailed`` ends one trial (recorded, the search goes on); ``FatalTrialError`` ends the
search. ``SearchInterrupted``: the user stopped the search (Ctrl+C); everything so far is kept
and the message says how to resume (exit status 130, the shell's for SIGINT). Anything else is a bug or an environment failure and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "FatalTrialError",
    "INTERRUPTED_EXIT_CODE",
    "SearchInterrupted",
    "TrialFailed",
    "TunerError",
    "USER_ERROR_EXIT_CODE",
]

#: Exit status of every command when the user gave bad input.
USER_ERROR_EXIT_CODE = 2

#: Exit status of a command the user interrupted (128 + SIGINT, what shells use).
INTERRUPTED_EXIT_CODE = 130


class TunerError(Exception):
    """Base class of every error ``tuner`` raises on purpose."""


class ConfigError(TunerError):
    """A bad option, search space, grouping or other configuration given by the user."""


class DataError(TunerError):
    """A dataset that cannot be used as given (missing, empty, inconsistent)."""


class TrialFailed(RuntimeError):
    """A trial ended without a usable result (NaN loss, out of memory, a crashed or stalled
    worker). The search records it, with its reason, and goes on."""


class FatalTrialError(TunerError):
    """A trial hit something that would fail every other trial too (a user error raised in a
    worker, or failed trials in a row); the search stops with this one line."""


class SearchInterrupted(Exception):
    """The user stopped the search (Ctrl+C, SIGTERM); the message says how to resume it."""
