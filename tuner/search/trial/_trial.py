"""The Tune function trial: how one trial runs, in one of two ways.

- **Warm** (every trial that needs at most one device: CPU cores, one GPU or a fraction of
  one): the trial trains in Tune's own trial actor, which holds the trial's CPUs/GPUs. Tune
  reuses the actor for the next trial with the same resources (``reuse_actors``), so
  trial after trial runs in a process that has TensorFlow imported and the image cache
  mapped (``tuner.search.worker._worker.warm``); a process retires after a number of trials or
  once its memory grew (:class:`WarmResources`). Reports go through ``ray.tune.report`` from
  the trial function's own thread; the trial keeps its own checkpoints
  (``tuner.search.trial._checkpoints``). A crashed process is replaced by Tune, which restarts the
  trial (``FailureConfig.max_failures``) from its newest checkpoint.
- **Ray Train** (2+ GPUs per trial): one Ray Train run with one worker holding the GPUs
  (MirroredStrategy in the worker). It uses Ray Train V2's ``DataParallelTrainer``, the base
  of ``TensorflowTrainer``: ``TensorflowTrainer`` only adds a backend that writes
  ``TF_CONFIG`` for multi-worker training, which a trial never uses (Keras 3 breaks with
  several workers, keras#20585), and importing ``ray.train.tensorflow`` imports TensorFlow
  into the trial actor and the Train controller. Reports reach Tune through
  ``tuner.search.trial._relay`` (not Ray's ``TuneReportCallback``, whose end-of-trial race hung
  searches); see that module for why it cannot deadlock.

``docs/architecture.md`` says how the two fit into a search.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tuner._run import FAILURE_FILE
from tuner.errors import FatalTrialError, TrialFailed
from tuner.leaderboard import REPEAT
from tuner.search.plan._contracts import EpochReport, Plan, TrialConfig

__all__ = ["one_line", "trial_config", "no_retries", "note_process", "WarmResources", "trial_resources", "tune_trial", "uses_train", "write_failure"]


def trial_config(config: Mapping[str, Any], plan: Plan) -> TrialConfig:
    """The worker's config: the sampled parameters plus the plan's fixed values.

    ``config`` is what the searcher sampled (per-architecture names such as
    ``unfrozen_blocks.resnet50`` are dropped: the plain name carries the value) and its
    ``repeat`` count (``tuner.leaderboard.REPEAT``), which offsets the training seed.
    """
    arch = str(config["architecture"])
    grouping = str(config.get("grouping") or "none")
    return TrialConfig(
        params={k: v for k, v in config.items() if "." not in k and v is not None and k != REPEAT},
        data_dir=plan.data_dir,
        class_name_pattern=plan.class_name_pattern,
        split_seed=plan.split_seed,
        identity=plan.identity,
        working_size=plan.working_size,
        cache_dir=plan.cache_dir,
        kind=plan.kind,
        weights=plan.weights.get(arch, "none"),
        grouping_file=plan.grouping_files.get(grouping),
        common_grouping_file=plan.common_grouping_file,
        max_epochs=plan.max_epochs,
        patience=plan.patience,
        metric=plan.metric,
        mode=plan.mode,
        # A configuration proposed again trains with the next seed (the searcher's count).
        seed=plan.seed + int(config.get(REPEAT) or 0),
        mixed_precision=plan.mixed_precision,
        cpus=plan.cpus_per_trial,
        # a trial that ends scores its best epoch on the test split (top rows show it)
        score_test="best" if plan.test_images and plan.test_top else "none",
    )


def uses_train(plan: Plan) -> bool:
    """Whether a trial of ``plan`` runs through Ray Train (2+ GPUs) rather than warm."""
    if plan.runner != "auto":
        return plan.runner == "train"
    return float(plan.gpus_per_trial or 0) >= 2


#: A warm process retires (a fresh one takes over) after this many trials, or once its
#: memory has grown by ``MEMORY_GROWTH`` since its second trial began, whichever is first.
#: Keras leaves each ``fit()``'s traced training step behind (a graph held from
#: TensorFlow's C++ side that neither ``clear_session`` nor a garbage collection frees;
#: keras#17458, open): ~3 MiB a trial for LeNet-5, 60-140 MiB for MobileNetV2 here. A
#: process that trained every trial of a long search would grow without bound; a fresh one
#: costs a TensorFlow import and a wait for the old one's CPUs (~4-8 s on 2 cores).
TRIALS_PER_PROCESS = 20
MEMORY_GROWTH = 0.5


def trial_resources(plan: Plan) -> Any:
    """What Tune reserves for one trial's actor: a dict, or a per-trial callable.

    Warm: the trial's CPUs and GPUs themselves (the actor trains), tagged with the
    generation of processes that may train it (:class:`WarmResources`). Ray Train: nothing
    but a sliver of the head node, since the Train worker reserves the CPUs/GPUs in its own
    placement group, and an actor that held any CPU would not fit beside its worker on a
    small machine. The trial actor (and the Train controller Ray attaches to its node) then
    lives on the head node, so losing a GPU node costs that node's workers only: Train
    restarts them elsewhere from the last checkpoint instead of the trial erroring.
    """
    from tuner.search.driver._cluster import HEAD_NODE_RESOURCE

    if uses_train(plan):
        return {"CPU": 0, "memory": 1, HEAD_NODE_RESOURCE: 0.001}
    resources = {"CPU": float(plan.cpus_per_trial or 1)}
    if plan.gpus_per_trial:
        resources["GPU"] = float(plan.gpus_per_trial)
    return WarmResources(resources, TRIALS_PER_PROCESS * max(1, int(plan.max_concurrent or 1)))


class _Processes:
    """What the driver knows of the warm processes (fed by ``note_process``)."""

    def __init__(self) -> None:
        self.generation = 0
        self.trials: dict[int, set[str]] = {}  # pid -> trials seen
        self.baseline: dict[int, float] = {}  # pid -> memory at its second trial's first report
        self.retired: set[int] = set()
        self.created: dict[str, int] = {}  # per WarmResources key: trials created so far


#: In the driver. Tune unpickles the trainable, and so the resource request, from its
#: registry each time it asks, so the request keeps no state of its own.
_PROCESSES = _Processes()


def note_process(pid: int, trial_id: str, memory_mb: float, growth: float | None = None) -> bool:
    """Record a warm process's memory from a report; True when it has just grown past the
    limit, which retires every process of the current generation (trials created from now
    on ask for the next one).

    The baseline is the process's memory when its second trial first reports: by then it
    holds TensorFlow, the image cache and whatever one trial leaves behind for good, so the
    growth measured from there is the leak of the trials after it.
    """
    limit = MEMORY_GROWTH if growth is None else growth
    seen = _PROCESSES.trials.setdefault(pid, set())
    seen.add(trial_id)
    if len(seen) < 2:
        return False
    base = _PROCESSES.baseline.setdefault(pid, memory_mb)
    if pid in _PROCESSES.retired or memory_mb <= base * (1 + limit):
        return False
    _PROCESSES.retired.add(pid)
    _PROCESSES.generation += 1
    return True


class WarmResources:
    """Tune's resource request per warm trial: the trial's CPUs/GPUs plus a generation tag.

    Tune reuses a trial actor only for a trial whose request is the same. The generation
    (one more byte of Ray's ``memory`` resource per generation, nothing that matters to
    scheduling) moves on every ``per_generation`` trials created and whenever a process's
    memory grew past ``MEMORY_GROWTH`` (:func:`note_process`); Tune then removes the cached
    actors that no pending trial can use. Module level: pickled with the experiment.
    """

    def __init__(self, resources: dict[str, float], per_generation: int):
        import uuid

        self.resources = dict(resources)
        self.per_generation = max(1, int(per_generation))
        self.key = uuid.uuid4().hex

    def __call__(self, config: Mapping[str, Any]) -> Any:
        from ray.tune import PlacementGroupFactory

        created = _PROCESSES.created.get(self.key, 0)
        _PROCESSES.created[self.key] = created + 1
        generation = _PROCESSES.generation + created // self.per_generation
        return PlacementGroupFactory([{**self.resources, "memory": generation + 1}])


def tune_trial(config: dict[str, Any], plan: Plan, stage: str, run_dir: str) -> None:
    """Run one trial of ``stage``: warm in this actor, or through Ray Train (2+ GPUs).

    A trial whose training ends in failure (NaN loss, out of memory, a worker that keeps
    crashing) writes ``failure.json`` into its trial folder and raises :class:`TrialFailed`;
    a user error in the worker (the dataset changed) raises :class:`FatalTrialError`.
    """
    if uses_train(plan):
        _train_trial(config, plan, stage, run_dir)
    else:
        _warm_trial(config, plan, stage, run_dir)


def _warm_trial(config: dict[str, Any], plan: Plan, stage: str, run_dir: str) -> None:
    """Train in this (reused) actor, reporting every epoch to Tune.

    The trial keeps its own checkpoints in its storage folder (``_checkpoints``) and starts
    from the newest one there: after a crash of its process (Tune restarts the trial) or of
    the driver (``--resume``), whatever Tune's experiment state last recorded.
    """
    import ray.tune

    from tuner.errors import TunerError
    from tuner.search.trial._checkpoints import TrialCheckpoints
    from tuner.search.worker._worker import run_training, warm

    trial_id = ray.tune.get_context().get_trial_id()
    fs, root = _storage(plan, run_dir)
    checkpoints = TrialCheckpoints(f"{root}/{stage}/{trial_id}", plan.metric, plan.mode, fs)
    resume = checkpoints.latest()
    last: dict[str, Any] = {}
    cfg = trial_config(config, plan)

    def report(metrics: dict[str, Any], directory: str | None) -> None:
        item = {**metrics}
        if directory:
            item["checkpoint_path"] = checkpoints.save(directory, int(metrics["epoch"]), metrics)
        elif item.get("replayed") and resume:
            item["checkpoint_path"] = resume  # the stored checkpoint the replay comes from
        if item.get("failure_reason"):
            # No objective: ASHA and the searcher skip it, so the trial ends by the error
            # raised below (its process is then discarded, never reused) and not by a stop.
            item.pop("objective", None)
        last.clear()
        last.update(item)
        ray.tune.report(item)

    with warm():
        try:
            if resume is None:
                run_training(cfg, report)
            else:
                with checkpoints.local(resume) as d:
                    run_training(cfg, report, d)
        except TunerError as exc:
            # A user error (the dataset changed on this node, say) fails every trial alike.
            report(EpochReport(epoch=0, finished=True, failure_reason=str(exc), fatal=True).result(), None)
    _raise_failure(last)


def _storage(plan: Plan, run_dir: str) -> tuple[Any, str]:
    """``(pyarrow filesystem or None, root)`` of the run's storage: its remote twin, or the run folder."""
    if plan.remote:
        from tuner._storage import open_uri

        return open_uri(plan.remote)
    return None, run_dir


def _raise_failure(metrics: Mapping[str, Any]) -> None:
    """A failure the training reported (NaN loss, out of memory, a user error) ends the trial.

    Its ``failure.json`` is written by the driver when the report arrives (``FailureGuard``):
    the driver's copy of the trial folder is the one the leaderboard reads.
    """
    if not metrics:
        return
    report = EpochReport.from_result(dict(metrics))
    if report.failure_reason:
        raise FatalTrialError(report.failure_reason) if report.fatal else TrialFailed(report.failure_reason)


def _train_trial(config: dict[str, Any], plan: Plan, stage: str, run_dir: str) -> None:
    """One Ray Train run with one worker holding the trial's GPUs."""
    import ray
    import ray.train
    import ray.tune
    from ray.train.v2.api.data_parallel_trainer import DataParallelTrainer
    from ray.util.queue import Queue
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from tuner.search.trial._relay import RelayCallback, relay
    from tuner.search.worker._worker import ray_train_loop

    context = ray.tune.get_context()
    trial_id = context.get_trial_id()
    gpus = float(plan.gpus_per_trial or 0)
    resources = {"CPU": float(plan.cpus_per_trial or 1)}
    if gpus:
        resources["GPU"] = gpus
    train_fs, train_path = None, plan.train_storage
    if plan.remote:  # object storage: checkpoints go there from whichever node trains
        from tuner._storage import open_uri

        train_fs, train_path = open_uri(str(plan.train_storage))
    # The queue lives beside this actor (the head node) and dies with it: it holds no CPU, so
    # it never waits for resources the trials hold.
    here = ray.get_runtime_context().get_node_id()
    queue = Queue(actor_options={"num_cpus": 0, "scheduling_strategy": NodeAffinitySchedulingStrategy(here, soft=False)})
    trainer = DataParallelTrainer(
        ray_train_loop,
        # JSON across the process boundary; the worker validates it again (TrialConfig).
        train_loop_config=trial_config(config, plan).model_dump(mode="json"),
        scaling_config=ray.train.ScalingConfig(num_workers=1, use_gpu=bool(gpus), resources_per_worker=resources),
        run_config=ray.train.RunConfig(  # type: ignore[call-arg]  # Train v2's RunConfig at runtime (RAY_TRAIN_V2_ENABLED)
            # A stable name per trial: a restored trial finds its own checkpoints.
            name=trial_id,
            storage_path=train_path,
            storage_filesystem=train_fs,
            callbacks=[RelayCallback(queue)],  # type: ignore[list-item]  # a Train v2 UserCallback
            failure_config=ray.train.FailureConfig(max_failures=int(plan.worker_retries)),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=plan.metric, checkpoint_score_order=plan.mode),
            worker_runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}},
            logging_config=ray.train.LoggingConfig(log_level="WARNING"),
        ),
    )
    outcome: dict[str, Any] = {}

    def fit() -> None:
        try:
            outcome["result"] = trainer.fit()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the trial's own thread below
            outcome["error"] = exc

    # A daemon: when Tune stops the trial (ASHA), the actor exits without waiting for it.
    fit_thread = threading.Thread(target=fit, name=f"fit-{trial_id}", daemon=True)
    fit_thread.start()
    last: dict[str, Any] = {}

    def report(item: dict[str, Any]) -> None:
        last.clear()
        last.update(item)
        ray.tune.report(item)

    relay(queue, fit_thread, report)
    if "error" in outcome:
        raise outcome["error"]
    # A failure the worker itself reported (NaN loss, out of memory) is recorded here. Any
    # other exception propagates: Tune then marks the trial ERROR and writes error.txt, while
    # the controller dying because Tune stopped the trial (ASHA) is not a failure at all.
    result = outcome["result"]
    # The last report relayed, not result.metrics: Train's result carries the metrics of the
    # last *checkpoint*, and a failure (NaN loss, out of memory, a user error) has none.
    metrics = last or result.metrics or {}
    if not metrics.get("failure_reason") and result.error is not None:
        raise TrialFailed(f"error: {one_line(result.error)}")
    _raise_failure(metrics)


def no_retries(trial: Any) -> None:
    """Tune will not restart ``trial`` (a Tune ``Trial``, in the driver) when it errors next.

    Tune retries an errored warm trial from its last checkpoint, which is right for a crashed
    process and wrong for a verdict: a NaN loss, an out-of-memory error or a user error the
    trial reported, or a stall the watchdog ended. Tune asks ``should_recover()`` before any
    callback hears of the error, so this is set when the verdict is known: on the failure's
    report, or before the watchdog kills the process.
    """
    trial.max_failures = 0


def write_failure(trial_dir: str | Path, trial_id: str, reason: str, fatal: bool = False) -> None:
    """Record why a trial failed in its folder (the leaderboard's ``failure_reason``), and
    whether the failure stops the search (``fatal``: a user error every trial would hit)."""
    from tuner._io import write_atomic

    write_atomic(Path(trial_dir) / FAILURE_FILE, json.dumps({"trial_id": trial_id, "reason": reason, "fatal": fatal}))


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"
