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

__all__ = ["LeaderboardCallback", "PlacementGroupReleaser", "ProgressCallback", "mirror_trial_files", "release_placement_group"]


class LeaderboardCallback(Callback):
    """Rewrites ``RUN_DIR/leaderboard.parquet`` whenever a trial starts or ends."""

    def __init__(self, run_dir: str, plan: dict[str, Any], stage: str = "search"):
        self.run_dir = run_dir
        self.plan = {k: v for k, v in plan.items() if not k.startswith("_")}
        self.stage = stage

    def _write(self, trials, ended=None) -> None:
        from tuner.search._driver import write_run_leaderboard

        running = {t.trial_id for t in trials if t is not ended and t.status in ("RUNNING", "PENDING")}
        fresh = {t.trial_id: t.local_path for t in trials if getattr(t, "local_path", None)}
        if self.plan.get("remote"):
            # Tune keeps the experiment on object storage; the trials' result files are staged
            # on this (head) node, where the trial actors run: keep a copy in the local run folder.
            mirror_trial_files(fresh.values(), Path(self.run_dir) / self.stage)
        write_run_leaderboard(Path(self.run_dir), self.plan, running, fresh=fresh)

    def on_trial_start(self, iteration, trials, trial, **info):
        self._write(trials)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._write(trials, ended=trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._write(trials, ended=trial)


_TRIAL_FILES = ("params.json", "result.json", "failure.json", "error.txt")


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
    from ray.util.placement_group import (
        PlacementGroup,
        placement_group_table,
        remove_placement_group,
    )

    try:
        state = placement_group_table().get(pg_hex, {}).get("state")
        if state not in ("CREATED", "PENDING", "RESCHEDULING"):
            return False
        remove_placement_group(PlacementGroup(PlacementGroupID(bytes.fromhex(pg_hex))))
        return True
    except Exception:  # noqa: BLE001 - already gone, or Ray is shutting down
        return False


#: A placement group holding CPUs/GPUs that no actor uses for this long is treated as leaked.
IDLE_PLACEMENT_GROUP_S = 30.0


class PlacementGroupReleaser(Callback):
    """Frees placement groups that stopped trials leave behind (design.md 1a's hang).

    When Tune stops a trial it kills the Train controller; the worker placement group is
    then left for Ray Train's cleaner, and in a race (the worker dies first and the
    controller starts a new worker group just before it is killed) a second placement group
    is made that nothing ever removes. On a 2-CPU machine one such group is enough to hang
    the search: later trials wait for CPUs that no actor uses. So, while the search runs,
    any placement group whose CPUs and GPUs have all been unused for
    ``IDLE_PLACEMENT_GROUP_S`` is removed (a live trial's worker holds its CPUs from the
    moment it is scheduled); and at the end of the stage every placement group a worker of
    this stage reported is removed.
    """

    def __init__(self, idle_seconds: float = IDLE_PLACEMENT_GROUP_S):
        self.idle_seconds = idle_seconds
        self.seen: dict[str, str] = {}
        self._idle_since: dict[str, float] = {}
        self._last_check = 0.0

    def __getstate__(self):
        return {"idle_seconds": self.idle_seconds, "seen": self.seen}

    def __setstate__(self, state):
        self.__init__(state.get("idle_seconds", IDLE_PLACEMENT_GROUP_S))
        self.seen = state.get("seen", {})

    def on_trial_result(self, iteration, trials, trial, result, **info):
        pg = result.get("placement_group")
        if pg:
            self.seen[trial.trial_id] = pg

    def on_step_end(self, iteration, trials, **info):
        now = time.monotonic()
        if now - self._last_check < 5.0:
            return
        self._last_check = now
        try:
            import ray

            total = ray.cluster_resources()
            free = ray.available_resources()
        except Exception:  # noqa: BLE001 - never let bookkeeping break the search
            return
        idle_now = set()
        for key, amount in total.items():
            for prefix in ("CPU_group_", "GPU_group_"):
                rest = key[len(prefix) :] if key.startswith(prefix) else ""
                if rest and "_" not in rest and amount > 0 and abs(free.get(key, 0.0) - amount) < 1e-9:
                    idle_now.add(rest)
        busy = {
            key.split("_group_", 1)[1]
            for key, amount in total.items()
            if key.startswith(("CPU_group_", "GPU_group_")) and "_" not in key.split("_group_", 1)[1]
            and abs(free.get(key, 0.0) - amount) >= 1e-9
        }
        idle_now -= busy
        for pg in list(self._idle_since):
            if pg not in idle_now:
                del self._idle_since[pg]
        ripe = [pg for pg in idle_now if now - self._idle_since.setdefault(pg, now) >= self.idle_seconds]
        ours = set(_job_worker_placement_groups()) if ripe else set()  # never touch other jobs' groups
        for pg in ripe:
            since = self._idle_since[pg]
            if pg in ours and release_placement_group(pg):
                print(f"released placement group {pg[:8]}: reserved but unused for {now - since:.0f}s (left by a stopped trial)", flush=True)
                self._idle_since.pop(pg, None)

    def on_experiment_end(self, trials, **info):
        # Every trial of the stage is over: any worker placement group this job still holds
        # is left over, whether a worker reported it or not.
        for pg in set(self.seen.values()) | set(_job_worker_placement_groups()):
            release_placement_group(pg)


def _job_worker_placement_groups() -> list[str]:
    """Ids of this job's live placement groups that reserve CPUs or GPUs (Train workers')."""
    try:
        import ray
        from ray.util.state import list_placement_groups

        job = ray.get_runtime_context().get_job_id()
        groups = list_placement_groups(filters=[("creator_job_id", "=", job)], detail=True, limit=10000)
    except Exception:  # noqa: BLE001 - no State API: fall back to what workers reported
        return []
    found = []
    for g in groups:
        state = g.get("state") if isinstance(g, dict) else getattr(g, "state", None)
        bundles = (g.get("bundles") if isinstance(g, dict) else getattr(g, "bundles", None)) or []
        pg_id = g.get("placement_group_id") if isinstance(g, dict) else getattr(g, "placement_group_id", None)
        resources = [b.get("unit_resources", b) if isinstance(b, dict) else {} for b in bundles]
        if state == "CREATED" and pg_id and any(r.get("CPU") or r.get("GPU") for r in resources):
            found.append(pg_id)
    return found
