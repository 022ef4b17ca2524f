"""What a search shows on the terminal: tuner's own lines; Ray's go to ``RUN_DIR/ray.log``.

While a search runs, file descriptors 1 and 2 of the driver (what Ray's C++ core worker, its
raylet start-up and its Python loggers write to) and ``sys.stdout``/``sys.stderr`` (where Ray
forwards the workers' output, ``(pid=...)`` lines, and its raylet warnings) point at the run's
``ray.log``. tuner writes its own lines (plan, cache, progress, warnings that need action,
failed trials, the summary) through :func:`say` to the terminal the search started with. A
line in Ray's output that a user must act on (out of memory, a node lost) still reaches the
terminal, once, in one line with the log's path.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

__all__ = ["Console", "say", "search_console"]


#: Lines of Ray's output a user must see: memory exhaustion, a node gone.
ALERT = re.compile(
    r"out of memory|OutOfMemory|\bOOM\b|memory monitor|ran out of memory"
    r"|node[^.]{0,80}\b(died|dead|lost|removed|failed)\b|NodeDiedError",
    re.IGNORECASE,
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

_current: Console | None = None


def say(message: str, err: bool = False) -> None:
    """Print one of tuner's own lines on the terminal (also while Ray's output is redirected)."""
    console = _current
    stream = (console.err if err else console.out) if console is not None else (sys.stderr if err else sys.stdout)
    print(message, file=stream, flush=True)


def _terminal(stream: TextIO, fd: int) -> tuple[TextIO, bool]:
    """A stream to where ``stream`` writes now that survives ``fd`` being pointed elsewhere,
    and whether it is a new one (to close at the end)."""
    try:
        if stream.fileno() == fd:
            stream.flush()
            encoding = getattr(stream, "encoding", None) or "utf-8"
            return os.fdopen(os.dup(fd), "w", buffering=1, encoding=encoding, errors="replace"), True
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        pass
    return stream, False  # not a file descriptor (pytest's capture, a StringIO): write to it as is


class _LogSink(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` during a search: everything to the log, alerts to the terminal."""

    def __init__(self, console: Console):
        self.console = console
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.console.log.write(text)
        self.console.log.flush()
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self.console.alert(line)
        return len(text)

    def flush(self) -> None:
        self.console.log.flush()

    def fileno(self) -> int:
        return self.console.log.fileno()

    def isatty(self) -> bool:
        return False


class _AlertHandler(logging.Handler):
    """Ray's own Python loggers in the driver: their alert lines reach the terminal too."""

    def __init__(self, console: Console):
        super().__init__(logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.alert(record.getMessage())
        except Exception:  # noqa: BLE001 - logging must never raise
            pass


class Console:
    """The terminal streams and the open log of one search."""

    def __init__(self, out: TextIO, err: TextIO, log_path: Path):
        self.out, self.err, self.log_path = out, err, log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")
        self._alerted: set[str] = set()

    def alert(self, line: str) -> None:
        text = " ".join(_ANSI.sub("", line).split())
        if not text or not ALERT.search(text) or text in self._alerted:
            return
        self._alerted.add(text)
        print(f"ray: {text[:240]} (Ray's log: {self.log_path})", file=self.err, flush=True)

    def move_log(self, path: Path) -> None:
        """Move the log (kept open) to ``path``, e.g. into a run folder made after Ray started."""
        if path == self.log_path:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.log_path, path)
        self.log_path = path


@contextmanager
def search_console(log_path: Path, out: TextIO | None = None) -> Iterator[Console]:
    """Send Ray's output (file descriptors 1 and 2, ``sys.stdout``/``sys.stderr``) to
    ``log_path`` and keep tuner's own lines (:func:`say`, ``console.out``) on the terminal."""
    global _current
    previous = _current
    sys.stdout.flush()
    sys.stderr.flush()
    (term_out, own_out), (term_err, own_err) = _terminal(out or sys.stdout, 1), _terminal(sys.stderr, 2)
    console = Console(term_out, term_err, log_path)
    saved_fds = []
    for fd in (1, 2):
        try:
            saved_fds.append((fd, os.dup(fd)))
            os.dup2(console.log.fileno(), fd)
        except OSError:
            pass
    saved_streams = (sys.stdout, sys.stderr)
    sys.stdout = sys.stderr = _LogSink(console)
    handler = _AlertHandler(console)
    ray_logger = logging.getLogger("ray")
    ray_logger.addHandler(handler)
    _current = console
    try:
        yield console
    finally:
        _current = previous
        ray_logger.removeHandler(handler)
        sys.stdout, sys.stderr = saved_streams
        for fd, saved in saved_fds:
            os.dup2(saved, fd)
            os.close(saved)
        for stream, owned in ((term_out, own_out), (term_err, own_err)):
            if owned:
                stream.close()
        console.log.close()
