"""Tune callbacks of the search: the leaderboard writer and the progress line.

Module-level classes so Tune can pickle them into the experiment state and restore them.
Imported only when a search runs (it imports Ray).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

__all__ = ["LeaderboardCallback", "ProgressCallback", "PlacementGroupReleaser", "release_placement_group"]


class LeaderboardCallback(Callback):
    """Rewrites ``RUN_DIR/leaderboard.parquet`` whenever a trial starts or ends."""

    def __init__(self, run_dir: str, plan: dict[str, Any]):
        self.run_dir = run_dir
        self.plan = {k: v for k, v in plan.items() if not k.startswith("_")}

    def _write(self, trials, ended=None) -> None:
        from tuner.search._driver import write_run_leaderboard

        running = {t.trial_id for t in trials if t is not ended and t.status in ("RUNNING", "PENDING")}
        fresh = {t.trial_id: t.local_path for t in trials if getattr(t, "local_path", None)}
        write_run_leaderboard(Path(self.run_dir), self.plan, running, fresh=fresh)

    def on_trial_start(self, iteration, trials, trial, **info):
        self._write(trials)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._write(trials, ended=trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._write(trials, ended=trial)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


class ProgressCallback(Callback):
    """A progress line at most every few seconds: done/running/stopped/failed, best, elapsed, ETA."""

    def __init__(self, stage: str, metric: str, mode: str, total: int, every: float = 5.0):
        self.stage, self.metric, self.mode, self.total, self.every = stage, metric, mode, total, every
        self._reset()

    def _reset(self) -> None:
        self.start = time.monotonic()
        self.last_print = 0.0
        self.best: tuple[float, str] | None = None
        self.ended: dict[str, str] = {}
        self.ended_before = 0

    def setup(self, **info):
        # Also runs after a restore: the clock restarts in the new process.
        ended = dict(self.ended)
        self._reset()
        self.ended = ended
        self.ended_before = len(ended)

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
        best = f"best {self.metric} {self.best[0]:.4f} ({self.best[1]})" if self.best else "no result yet"
        print(
            f"[{self.stage}] {done}/{self.total} trials done ({stopped} stopped early by ASHA, {failed} failed), "
            f"{running} running | {best} | {_duration(elapsed)} elapsed{eta}",
            file=sys.stdout,
            flush=True,
        )

    def on_trial_result(self, iteration, trials, trial, result, **info):
        value = result.get(self.metric)
        if isinstance(value, (int, float)) and value == value:
            if self.best is None or (value > self.best[0] if self.mode == "max" else value < self.best[0]):
                self.best = (float(value), trial.trial_id)
        self._line(trials)

    def on_trial_complete(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        self.ended[trial.trial_id] = "completed" if last.get("finished") else "stopped"
        self._line(trials, force=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        self.ended[trial.trial_id] = "failed"
        self._line(trials, force=True)


def release_placement_group(pg_hex: str | None) -> bool:
    """Remove a trial's Ray Train placement group if it is still reserved; True if removed."""
    if not pg_hex:
        return False
    from ray._raylet import PlacementGroupID
    from ray.util.placement_group import PlacementGroup, placement_group_table, remove_placement_group

    try:
        state = placement_group_table().get(pg_hex, {}).get("state")
        if state not in ("CREATED", "PENDING", "RESCHEDULING"):
            return False
        remove_placement_group(PlacementGroup(PlacementGroupID(bytes.fromhex(pg_hex))))
        return True
    except Exception:  # noqa: BLE001 - already gone, or Ray is shutting down
        return False


class PlacementGroupReleaser(Callback):
    """Sweeps the placement groups of a stage's trials when the stage ends.

    Each worker reports its placement group's id. Releasing it while a trial's Train
    controller is still alive is harmful (the controller sees its worker die and starts a
    new worker group in a new placement group that then leaks), so this only acts once Tune
    has ended every trial of the stage; during the stage Ray Train's own cleaner frees the
    placement groups of stopped trials (it needs the dashboard, design.md 1a).
    """

    def __init__(self):
        self.seen: dict[str, str] = {}

    def on_trial_result(self, iteration, trials, trial, result, **info):
        pg = result.get("placement_group")
        if pg:
            self.seen[trial.trial_id] = pg

    def on_experiment_end(self, trials, **info):
        for pg in self.seen.values():
            release_placement_group(pg)
