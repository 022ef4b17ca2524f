"""How a trial's reports travel from its Ray Train run to Tune, without a race.

Ray's ``TuneReportCallback`` hands each report to the trial actor's main thread, which takes
it only while Tune's ``step()`` waits for a result; once ``fit()`` has returned, Tune's closing
result can enter the size-1 result queue first and the main thread then blocks forever behind
it (the end-of-trial hang). Here instead:

- :class:`RelayCallback` runs in the Train controller and puts every report (rank 0's metrics
  plus the persisted checkpoint's path) on an unbounded ``ray.util.queue.Queue``: the put
  never waits for the trial.
- ``fit()`` runs in a helper thread of the trial; the trial function's own thread runs
  :func:`relay`, which takes reports off the queue and calls
  ``ray.tune.report``: Tune's ordinary function-trial path, where the one thread that reports
  is also the one that returns.
- The controller's ``put`` completes before ``fit()`` can return, and :func:`relay` returns
  only after it has seen ``fit()`` ended *and then* found the queue empty. So every report is
  relayed, and none can come after Tune's closing result. Nothing waits without a timeout
  except ``ray.tune.report``, which the driver always ends by taking the result.
"""

from __future__ import annotations

import threading
from typing import Any

from ray.train.v2.api.callback import UserCallback

__all__ = ["RelayCallback", "relay"]

#: How long one wait on the queue lasts before looking again whether ``fit()`` ended (s).
POLL_S = 0.5


class RelayCallback(UserCallback):
    """Puts every Train report on the trial's queue (runs in the Train controller)."""

    def __init__(self, queue: Any):
        self.queue = queue

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        item = dict(metrics[0])
        if checkpoint is not None:
            item["checkpoint_path"] = checkpoint.path
        self.queue.put(item)


def relay(queue: Any, fit_thread: threading.Thread, report: Any = None) -> int:
    """Hand every queued report to Tune until ``fit()`` ended and the queue is empty.

    Returns the number of reports relayed. (The driver journals each one as it arrives:
    ``tuner.search.driver._callbacks.EpochJournal``.)
    """
    from ray.util.queue import Empty

    if report is None:
        import ray.tune

        report = ray.tune.report
    relayed = 0
    while True:
        ended = not fit_thread.is_alive()  # read before the get: a report put before the end is still seen
        try:
            item = queue.get(timeout=POLL_S)
        except Empty:
            if ended:
                return relayed
            continue
        report(item)
        relayed += 1
