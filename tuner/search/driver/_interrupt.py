"""Ctrl+C during a search: stop it cleanly, keep everything, say how to resume.

Ray Tune ends a run gracefully on SIGINT (or SIGUSR1): it stops taking results, saves the
experiment state and returns from ``fit()`` *normally*. Taken as is, the driver then went on
as if the stage had finished: Ctrl+C during the probe started the search, and during the
search it scored and summarised a half-run search. Here the first SIGINT (or SIGTERM) asks
Tune for that same graceful end through its SIGUSR1 handler and remembers it; the driver
then writes the leaderboard and raises :class:`~tuner.errors.SearchInterrupted` (exit 130)
with the ``--resume`` command. A second Ctrl+C quits at once (``KeyboardInterrupt``); the
epoch journal still keeps every epoch Tune was told of.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["Interrupt", "graceful_interrupt"]

#: Read by Ray Tune when ``fit()`` starts: its own SIGINT handler would hide the interrupt.
_TUNE_SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"


@dataclass
class Interrupt:
    """Whether the user asked the search to stop, and by which signal."""

    requested: bool = False
    signal_name: str = ""


@contextmanager
def graceful_interrupt(on_first: Any = None) -> Iterator[Interrupt]:
    """While the block runs (a stage's ``Tuner.fit()``), SIGINT/SIGTERM end it gracefully.

    ``on_first(signal_name)`` is called on the first signal (to print a line). Outside the
    main thread signals cannot be caught: the block runs unprotected.
    """
    state = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    usr1_before = signal.getsignal(signal.SIGUSR1)

    def handler(signum: int, frame: Any) -> None:
        if state.requested:
            raise KeyboardInterrupt  # the second Ctrl+C: quit now
        state.requested, state.signal_name = True, signal.Signals(signum).name
        if on_first is not None:
            on_first(state.signal_name)
        tune_handler = signal.getsignal(signal.SIGUSR1)
        if callable(tune_handler) and tune_handler is not usr1_before:
            tune_handler(signal.SIGUSR1, frame)  # Tune's graceful stop: save state, end fit()
        else:
            raise KeyboardInterrupt  # Tune is not running yet (or any more): nothing to save

    env_before = os.environ.get(_TUNE_SIGINT_ENV)
    os.environ[_TUNE_SIGINT_ENV] = "1"
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield state
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        # Tune leaves its handler installed after fit(); a later signal must not reach it.
        signal.signal(signal.SIGUSR1, usr1_before)
        if env_before is None:
            os.environ.pop(_TUNE_SIGINT_ENV, None)
        else:
            os.environ[_TUNE_SIGINT_ENV] = env_before
