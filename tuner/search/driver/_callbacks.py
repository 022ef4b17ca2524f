"""Tune callbacks of the search: the leaderboard writer and the progress line.

Module-level classes so Tune can pickle them into the experiment state and restore them.
Imported only when a search runs (it imports Ray).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback, Stopper

from tuner._io import write_atomic
from tuner._run import ERROR_FILE, FAILURE_FILE, PARAMS_FILE, RECOVERED_FILE, RESULT_FILE, STOPPED_FILE
from tuner.leaderboard import REPEAT, Scored, config_key, config_means
from tuner.search.driver._console import say
from tuner.search.driver._watchdog import StallWatchdog
from tuner.search.plan._contracts import EpochReport, Plan

_log = logging.getLogger("tuner.search")

__all__ = [
    "RUNNING_NOW",
    "EpochJournal",
    "WarmProcesses",
    "FailureGuard",
    "LeaderboardCallback",
    "ProgressCallback",
    "mirror_trial_files",
]


#: ``(run_dir, stage)`` -> the trials running at the last trial event in this process: the
#: trials a Ctrl+C stopped (a restored callback is another object than the driver's, hence a
#: module-level record).
RUNNING_NOW: dict[tuple[str, str], set[str]] = {}


class EpochJournal(Callback):
    """Appends every report a trial makes to ``RUN_DIR/epochs/<stage>/<trial>.jsonl`` as it
    reaches the driver, before Tune records it in its experiment state (every few seconds).

    Tune's ``result.json`` is rewritten when a trial is restored, so this is what keeps every
    epoch across a killed driver and ``--resume``. An epoch whose report was lost with the
    driver (sent, not yet received) is not lost: its checkpoint was written before the
    report, and the resumed trial reports it again (``replayed``) before training on.
    """

    def __init__(self, run_dir: str, stage: str):
        self.run_dir, self.stage = run_dir, stage

    def on_trial_result(self, iteration, trials, trial, result, **info):
        import json

        from tuner._run import journal_path

        path = journal_path(self.run_dir, self.stage, trial.trial_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        item = {k: v for k, v in result.items() if k != "config"}  # the config is in params.json
        with open(path, "a") as fh:
            fh.write(json.dumps(item, default=str) + "\n")


class WarmProcesses(Callback):
    """Feeds each warm trial's process memory to ``_trial.note_process``, which retires the
    processes whose memory grew too much (Keras leaks with every ``fit()``)."""

    def on_trial_result(self, iteration, trials, trial, result, **info):
        pid, memory = result.get("pid"), result.get("memory_mb")
        if pid and memory and not result.get("replayed"):
            from tuner.search.trial._trial import note_process

            if note_process(int(pid), trial.trial_id, float(memory)):
                _log.info("warm processes retire after their current trials: process %s grew to %.0f MiB", pid, memory)


class LeaderboardCallback(Callback):
    """Keeps ``RUN_DIR/leaderboard.parquet`` current while a stage runs, off Tune's loop.

    Rewriting the leaderboard reads every trial's files (about 0.5 s at 200 trials), so Tune's
    callbacks only take a snapshot of the trials and wake a writer thread; the thread rewrites
    at most every ``min_interval`` seconds, coalescing what arrived meanwhile. The driver
    writes the final leaderboard itself, synchronously, once the stage has ended.
    """

    def __init__(self, run_dir: str, plan: Plan, stage: str = "search", min_interval: float = 2.0):
        self.run_dir = run_dir
        self.plan = plan
        self.stage = stage
        self.min_interval = min_interval
        self._init_writer()

    def _init_writer(self) -> None:
        self._pending: tuple[set[str], dict[str, str]] | None = None
        self._wake = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.writes = 0

    def __getstate__(self):  # Tune pickles callbacks with the experiment: no thread or lock
        return {k: v for k, v in self.__dict__.items() if k in ("run_dir", "plan", "stage", "min_interval")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_writer()

    def _snapshot(self, trials, ended=None) -> None:
        running = {t.trial_id for t in trials if t is not ended and t.status in ("RUNNING", "PENDING")}
        RUNNING_NOW[(self.run_dir, self.stage)] = running
        fresh = {t.trial_id: t.local_path for t in trials if getattr(t, "local_path", None)}
        with self._wake:
            self._pending = (running, fresh)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="tuner-leaderboard", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _loop(self) -> None:
        last = 0.0
        while True:
            with self._wake:
                while self._pending is None and not self._stop:
                    self._wake.wait()
                if self._stop:
                    return
            time.sleep(max(0.0, last + self.min_interval - time.monotonic()))  # coalesce bursts
            with self._wake:
                pending, self._pending = self._pending, None
            if pending is None:
                continue
            try:
                self.write(*pending)
            except Exception as exc:  # noqa: BLE001 - the next write or the final one retries
                say(f"warning: leaderboard update failed ({type(exc).__name__}: {exc}); it is rewritten when the stage ends", err=True)
            last = time.monotonic()

    def write(self, running: set[str], fresh: dict[str, str]) -> None:
        """One rewrite (what the writer thread does)."""
        from tuner.search.driver._board import write_run_leaderboard

        if self.plan.remote:
            # Tune keeps the experiment on object storage; the trials' result files are staged
            # on this (head) node, where the trial actors run: keep a copy in the local run folder.
            mirror_trial_files(fresh.values(), Path(self.run_dir) / self.stage)
        write_run_leaderboard(Path(self.run_dir), self.plan, running, fresh=fresh)
        self.writes += 1

    def stop(self) -> None:
        """Stop the writer thread after the write in progress, if any."""
        with self._wake:
            self._stop = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=120)

    def on_trial_start(self, iteration, trials, trial, **info):
        self._snapshot(trials)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self._snapshot(trials)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._snapshot(trials, ended=trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._snapshot(trials, ended=trial)

    def on_experiment_end(self, trials, **info):
        self.stop()


_TRIAL_FILES = (PARAMS_FILE, RESULT_FILE, FAILURE_FILE, ERROR_FILE)


def mirror_trial_files(folders, stage_dir: Path) -> None:
    """Copy each staged trial folder's result files to ``stage_dir/<folder name>/``."""
    import shutil

    for folder in folders:
        source = Path(folder)
        if not source.is_dir():
            continue
        target = stage_dir / source.name
        target.mkdir(parents=True, exist_ok=True)
        for name in _TRIAL_FILES:
            if (source / name).is_file():
                tmp = target / f".{name}.tmp"
                shutil.copyfile(source / name, tmp)
                tmp.replace(target / name)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


class ProgressCallback(Callback):
    """A progress line at most every few seconds, and at least every ``heartbeat`` seconds:
    done/running/stopped/failed, best, elapsed, ETA, and the longest silence of a running
    trial once it passes a minute."""

    def __init__(self, stage: str, metric: str, mode: str, total: int, every: float = 5.0, watchdog: StallWatchdog | None = None, heartbeat: float = 30.0):
        self.stage, self.metric, self.mode, self.total, self.every = stage, metric, mode, total, every
        self.watchdog, self.heartbeat = watchdog, heartbeat
        self._reset()

    def _reset(self) -> None:
        self.start = time.monotonic()
        self.last_print = 0.0
        self.scored: dict[str, Scored] = {}  # each trial's best so far, by configuration
        self.ended: dict[str, str] = {}
        self.ended_before = 0

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        # Also runs after a restore: the clock restarts in the new process.
        ended, scored = dict(self.ended), dict(self.scored)
        self._reset()
        self.ended, self.scored = ended, scored
        self.ended_before = len(ended)

    def _best(self) -> str:
        """The leader as the leaderboard ranks it: by configuration, a repeated one by its mean."""
        if not self.scored:
            return "no result yet"
        means = config_means(self.scored.values(), mode=self.mode)
        sign = 1.0 if self.mode == "max" else -1.0
        leader = max(self.scored.values(), key=lambda t: (sign * means[t.trial_id][0], sign * t.objective))
        score, n = means[leader.trial_id]
        return f"best {self.metric} {score:.4f} ({leader.trial_id}{f', mean of {n} trainings' if n > 1 else ''})"

    def _line(self, trials, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_print < self.every:
            return
        self.last_print = now
        running = sum(1 for t in trials if t.status == "RUNNING" and t.trial_id not in self.ended)
        done = len(self.ended)
        stopped = sum(1 for s in self.ended.values() if s == "stopped")
        failed = sum(1 for s in self.ended.values() if s == "failed")
        elapsed = now - self.start
        eta = ""
        new = done - self.ended_before
        if new > 0 and done < self.total:
            eta = f", ETA ~{_duration(elapsed / new * (self.total - done))}"
        best = self._best()
        quiet = ""
        if self.watchdog is not None:
            silences = self.watchdog.silences()
            if silences:
                tid, longest = max(silences.items(), key=lambda kv: kv[1])
                if longest > 60:
                    quiet = f" | trial {tid} silent for {_duration(longest)} (limit {_duration(self.watchdog.limit(tid))})"
        early = f"{stopped} stopped early, " if stopped else ""  # only under early stopping (budget.early_stopping)
        say(
            f"[{self.stage}] {done}/{self.total} trials done ({early}{failed} failed), {running} running | {best} | {_duration(elapsed)} elapsed{eta}{quiet}",
        )

    def on_step_end(self, iteration, trials, **info):
        if time.monotonic() - self.last_print >= self.heartbeat:
            self._line(trials, force=True)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value = result.get(self.metric)
        if isinstance(value, (int, float)) and value == value:
            before = self.scored.get(trial.trial_id)
            pick = max if self.mode == "max" else min
            best = float(value) if before is None else pick(before.objective, float(value))
            # A trial's configuration is keyed once, not on every result (Tune's loop waits on this).
            config = before.config if before is not None else config_key({k: v for k, v in (trial.config or {}).items() if k != REPEAT})
            self.scored[trial.trial_id] = Scored(trial.trial_id, config, best, int(result.get("epoch") or 0), True)
        self._line(trials)

    def on_trial_complete(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        self.ended[trial.trial_id] = "completed" if last.get("finished") else "stopped"
        if trial.trial_id in self.scored:
            self.scored[trial.trial_id] = self.scored[trial.trial_id]._replace(running=False)
        self._line(trials, force=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.ended[trial.trial_id] = "failed"
        self.scored.pop(trial.trial_id, None)  # a failed trial ranks nowhere (as on the leaderboard)
        say(f"[{self.stage}] trial {trial.trial_id} failed: {failure_reason(getattr(trial, 'local_path', None))}")
        self._line(trials, force=True)


class FailureGuard(Callback, Stopper):
    """Stops the whole stage when failing trials would only repeat themselves.

    Two cases, in keras-tuner's terms: a *fatal* trial (its worker raised a user error, such
    as a dataset that changed under the search: every other trial would fail the same way)
    stops the stage at once; ``max_consecutive`` failed trials in a row (NaN losses, crashes,
    stalls) stop it too. ``reason`` then says why; the driver raises it after the leaderboard
    is written, and ``--resume`` continues the stage once the cause is fixed.
    """

    def __init__(self, stage_dir: str, max_consecutive: int = 5):
        self.stage_dir = stage_dir
        self.max_consecutive = max_consecutive
        self._reset()

    def _reset(self) -> None:
        self.reason: str | None = None
        self.fatal = False
        self._in_a_row = 0

    # Tune pickles callbacks and stoppers with the experiment: a restored guard starts clean,
    # so ``--resume`` after fixing the cause runs the stage on.
    def __getstate__(self):
        return {"stage_dir": self.stage_dir, "max_consecutive": self.max_consecutive}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    def _stop(self, reason: str, fatal: bool) -> None:
        import json

        self.reason, self.fatal = reason, fatal
        Path(self.stage_dir).mkdir(parents=True, exist_ok=True)
        # A file, not only this object: after a restore the driver holds another copy.
        write_atomic(Path(self.stage_dir) / STOPPED_FILE, json.dumps({"reason": reason, "fatal": fatal}))

    def on_trial_error(self, iteration, trials, trial, **info):
        why, fatal = failure_of(getattr(trial, "local_path", None))
        if self.reason is not None:
            return
        if fatal:
            self._stop(why, fatal=True)
            return
        self._in_a_row += 1
        if self._in_a_row >= self.max_consecutive:
            self._stop(
                f"the search stopped: {self._in_a_row} trials failed in a row (the last: {why}); the leaderboard's "
                "failure_reason column has each reason (--max-consecutive-failures N sets how many in a row stop it)",
                fatal=False,
            )

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._in_a_row = 0

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not result.get("failure_reason"):
            return
        report = EpochReport.from_result(result)  # the trial raises next: a verdict, not a crash to retry
        from tuner.search.trial._trial import no_retries, write_failure

        no_retries(trial)
        if getattr(trial, "local_path", None):
            write_failure(trial.local_path, trial.trial_id, report.failure_reason, fatal=report.fatal)

    def on_trial_recover(self, iteration, trials, trial, **info):
        """A warm trial's process died (a crash, an OOM kill, a lost node): Tune restarts the
        trial from its newest checkpoint. Its ``error.txt`` moves aside, so that only an error
        that ended a trial reads as its failure."""
        folder = Path(getattr(trial, "local_path", None) or "")
        error = folder / ERROR_FILE
        if trial.local_path and error.is_file():
            with open(folder / RECOVERED_FILE, "a") as fh:
                fh.write(error.read_text())
            error.unlink()
        say(f"trial {trial.trial_id}: its process died; restarting it from its last checkpoint (restart {trial.num_failures} of {trial.max_failures})")

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.reason is not None


def failure_of(trial_dir: str | None) -> tuple[str, bool]:
    """Why a trial failed, from its folder (``failure.json``, else Tune's ``error.txt``), and
    whether that stops the search."""
    from tuner.search.driver._rows import read_trial

    data = read_trial(Path(trial_dir)) if trial_dir else None
    return (data or {}).get("failure") or "error (see the trial's error.txt)", bool((data or {}).get("fatal"))


def failure_reason(trial_dir: str | None) -> str:
    """Why a trial failed (see :func:`failure_of`)."""
    return failure_of(trial_dir)[0]
