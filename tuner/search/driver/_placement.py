"""Placement groups of ended Ray Train trials: Train keeps a trial's placement group when Tune stops it; release it as soon as its trial is gone."""

from __future__ import annotations

import logging
import time

from ray.tune import Callback

__all__ = ["IDLE_PLACEMENT_GROUP_S", "PlacementGroupReleaser", "release_placement_group"]

_log = logging.getLogger("tuner.search")


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
    """Frees placement groups that stopped trials leave behind (a hang otherwise).

    When Tune stops a trial it kills the Train controller; the worker placement group is
    then left for Ray Train's cleaner, and in a race (the worker dies first and the
    controller starts a new worker group just before it is killed) a second placement group
    is made that nothing ever removes. On a 2-CPU machine one such group is enough to hang
    the search: later trials wait for CPUs that no actor uses. So, while the search runs,
    any placement group whose CPUs and GPUs have all been unused for
    ``IDLE_PLACEMENT_GROUP_S`` is removed (a live trial's worker holds its CPUs from the
    moment it is scheduled); and at the end of the stage every CPU/GPU placement group this
    job made during the stage is removed. Groups the driver's process held before the stage
    (a notebook's own, say) are never touched.
    """

    def __init__(self, idle_seconds: float = IDLE_PLACEMENT_GROUP_S):
        self.idle_seconds = idle_seconds
        self.seen: dict[str, str] = {}
        self._idle_since: dict[str, float] = {}
        self._last_check = 0.0
        self._before: set[str] = set()

    def __getstate__(self):
        return {"idle_seconds": self.idle_seconds, "seen": self.seen}

    def __setstate__(self, state):
        PlacementGroupReleaser.__init__(self, state.get("idle_seconds", IDLE_PLACEMENT_GROUP_S))
        self.seen = state.get("seen", {})

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        self._before = set(_job_worker_placement_groups())

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
            if key.startswith(("CPU_group_", "GPU_group_")) and "_" not in key.split("_group_", 1)[1] and abs(free.get(key, 0.0) - amount) >= 1e-9
        }
        idle_now -= busy
        for pg in list(self._idle_since):
            if pg not in idle_now:
                del self._idle_since[pg]
        ripe = [pg for pg in idle_now if now - self._idle_since.setdefault(pg, now) >= self.idle_seconds]
        ours = set(_job_worker_placement_groups()) - self._before if ripe else set()  # never other jobs' groups
        for pg in ripe:
            since = self._idle_since[pg]
            if pg in ours and release_placement_group(pg):
                _log.info("released placement group %s: reserved but unused for %.0fs (left by a stopped trial)", pg[:8], now - since)
                self._idle_since.pop(pg, None)

    def on_experiment_end(self, trials, **info):
        # Every trial of the stage is over: any worker placement group this job made and
        # still holds is left over, whether a worker reported it or not. Looked at twice: a
        # group whose creation was in flight when the last trial ended appears a moment later.
        for attempt in range(2):
            for pg in (set(self.seen.values()) | set(_job_worker_placement_groups())) - self._before:
                release_placement_group(pg)
            if attempt == 0:
                time.sleep(2.0)


def _job_worker_placement_groups() -> list[str]:
    """Ids of this job's placement groups that reserve CPUs or GPUs (Train workers').

    From the GCS's own table: a placement group's id ends with its creator job's id. (The
    State API needs the dashboard, and under load its call timed out, so a stray group
    outlived the stage.)
    """
    try:
        import ray
        from ray.util.placement_group import placement_group_table

        job = ray.get_runtime_context().get_job_id()
        table = placement_group_table()
    except Exception:  # noqa: BLE001 - Ray shutting down: fall back to what workers reported
        return []
    found = []
    for pg_id, info in table.items():
        bundles = (info.get("bundles") or {}).values()
        if pg_id.endswith(job) and info.get("state") == "CREATED" and any(b.get("CPU") or b.get("GPU") for b in bundles):
            found.append(pg_id)
    return found
