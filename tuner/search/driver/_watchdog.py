"""The stall watchdog: a running trial silent past its limit is failed (reason 'stalled') and its actor killed, so a search never waits forever."""

from __future__ import annotations

import time

from ray.tune import Callback

from tuner.search.driver._console import say

__all__ = ["EPOCH_FACTOR", "EPOCH_FLOOR_S", "FIRST_REPORT_FLOOR_S", "StallWatchdog"]


#: Before a trial's first report (model build, weights, cache, the first epoch, a wait for
#: the CPUs of a trial Tune is still tearing down), the watchdog allows at least this long...
FIRST_REPORT_FLOOR_S = 900.0


#: ...and between two reports at least this long, or ``EPOCH_FACTOR`` times the slowest epoch
#: this search has seen, whichever is longer.
EPOCH_FLOOR_S = 300.0


EPOCH_FACTOR = 5.0


class StallWatchdog(Callback):
    """Ends a running trial that has reported nothing for too long, as ``failed``.

    Between two reports the limit is ``stall_timeout`` when given, else the longer of
    ``EPOCH_FLOOR_S`` and ``EPOCH_FACTOR`` x the slowest epoch this search has seen. Before
    its first report a trial builds its model, loads weights and may wait for the CPUs of a
    trial Tune is still ending: it gets the longest of ``FIRST_REPORT_FLOOR_S``, 3x the
    slowest first report seen and ``stall_timeout``. A stalled trial gets ``failure.json`` (reason ``stalled: no report for N s``)
    and its actor is killed: a warm trial's process dies with its CPUs/GPUs freed (Tune
    starts a fresh one for the next trial); a Ray Train trial's run ends, freeing its worker's.
    Tune records the trial as errored and the search goes on.
    """

    def __init__(self, stall_timeout: float | None = None):
        self.stall_timeout = stall_timeout
        self._reset()

    def _reset(self) -> None:
        self.started: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.slowest_epoch = 0.0
        self.slowest_first = 0.0
        self.stalled: dict[str, str] = {}
        self._last_check = 0.0

    def __getstate__(self):
        return {"stall_timeout": self.stall_timeout}

    def __setstate__(self, state):
        StallWatchdog.__init__(self, state.get("stall_timeout"))

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info):
        self._reset()  # also after a restore: clocks restart in this process

    def limit(self, trial_id: str) -> float:
        """Seconds of silence allowed for this trial now."""
        if trial_id not in self.last:  # building the model, loading weights, waiting for CPUs
            return max(FIRST_REPORT_FLOOR_S, 3.0 * self.slowest_first, self.stall_timeout or 0.0)
        if self.stall_timeout:
            return float(self.stall_timeout)
        return max(EPOCH_FLOOR_S, EPOCH_FACTOR * self.slowest_epoch)

    def silences(self, now: float | None = None) -> dict[str, float]:
        """Seconds since each running trial last reported (or started)."""
        now = time.monotonic() if now is None else now
        return {t: now - self.last.get(t, since) for t, since in self.started.items()}

    def on_trial_start(self, iteration, trials, trial, **info):
        now = time.monotonic()
        self.started[trial.trial_id] = now
        self.last.pop(trial.trial_id, None)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        now = time.monotonic()
        tid = trial.trial_id
        if tid not in self.started:  # restored trial: its clock starts now
            self.started[tid] = now
        if tid in self.last:
            self.slowest_epoch = max(self.slowest_epoch, now - self.last[tid])
        else:
            self.slowest_first = max(self.slowest_first, now - self.started[tid])
        self.last[tid] = now

    def _forget(self, trial) -> None:
        self.started.pop(trial.trial_id, None)
        self.last.pop(trial.trial_id, None)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._forget(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._forget(trial)

    def on_step_end(self, iteration, trials, **info):
        now = time.monotonic()
        if now - self._last_check < 1.0:
            return
        self._last_check = now
        silent = self.silences(now)
        for trial in trials:
            tid = trial.trial_id
            if trial.status != "RUNNING" or tid not in silent or tid in self.stalled:
                continue
            if trial.trial_id not in self.started:
                continue
            if silent[tid] > self.limit(tid):
                self._end(trial, silent[tid])

    def _end(self, trial, silence: float) -> None:
        from tuner.search.trial._trial import no_retries, write_failure

        reason = f"stalled: no report for {silence:.0f} s"
        self.stalled[trial.trial_id] = reason
        no_retries(trial)  # its process is killed below; Tune must not restart the trial
        if getattr(trial, "local_path", None):
            write_failure(trial.local_path, trial.trial_id, reason)
        say(f"trial {trial.trial_id} {reason} (limit {self.limit(trial.trial_id):.0f} s; --stall-timeout sets it): ending it as failed", err=True)
        try:
            import ray

            actor = trial.temporary_state.ray_actor
            if actor is not None:
                ray.kill(actor, no_restart=True)
        except Exception as exc:  # noqa: BLE001 - Tune may already be ending it
            say(f"warning: could not end stalled trial {trial.trial_id}: {exc}", err=True)
