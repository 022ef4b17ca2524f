"""The search driver: Ray Tune over function trials, Optuna TPE, ASHA, the leaderboard.

A trial that needs one device or less trains in its own (reused, warm) Tune trial actor; 2+
GPUs train through Ray Train (``_trial``). Concurrency is sized to the cluster
(``_plan.fit_resources``); the dashboard runs (bound to localhost) so Ray Train can release
the placement groups of trials ASHA stops. TensorFlow is never imported here.
``docs/architecture.md`` has the whole picture.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from tuner._io import user_path, write_atomic
from tuner._run import LOG_FILE, STOPPED_FILE, TRACKED_FILE
from tuner._storage import join_uri
from tuner.errors import ConfigError, FatalTrialError, SearchInterrupted, TunerError
from tuner.leaderboard import FILENAME, TrialRow
from tuner.search.driver._board import tune_storage, write_run_leaderboard
from tuner.search.driver._cluster import RAY_ENV, check_remote_is_new, check_storage, cluster_shape, init_ray
from tuner.search.driver._console import Console, say, search_console
from tuner.search.driver._stage_groupings import copy_groupings, resolve_auto_groupings, set_common_space
from tuner.search.driver._summary import evaluate_top, print_summary
from tuner.search.plan._contracts import Plan
from tuner.search.plan._plan import dropped_groupings_note, load_plan, random_weights_note, save_plan, stage_space
from tuner.search.plan._resources import size_resources
from tuner.search.plan._weights import resolve_weights

__all__ = ["RAY_ENV", "check_resume", "init_ray", "run_search", "trial_dirname", "write_run_leaderboard"]

_log = logging.getLogger("tuner.search")


def trial_dirname(trial: Any) -> str:
    """Trial folders are named by trial id (module-level: pickled into the experiment state)."""
    return trial.trial_id


def _run_stage(run_dir: Path, plan: Plan, stage: str, extra_callbacks: list[Any] | None = None) -> None:
    from ray import tune

    from tuner.search.trial._trial import trial_resources, tune_trial, uses_train

    probe = stage == "probe"
    num_samples = plan.probe_samples if probe else plan.num_samples
    max_epochs = plan.probe_epochs if probe else plan.max_epochs
    # The probe trains on the dataset's own labels and scores them.
    stage_plan = plan.evolve(space=plan.space.with_budget(max_epochs=max_epochs), **({"grouping_files": {}, "common_grouping_file": None} if probe else {}))
    train = uses_train(plan)
    trainable = tune.with_resources(tune.with_parameters(tune_trial, plan=stage_plan, stage=stage, run_dir=str(run_dir)), trial_resources(plan))
    from tuner.search.driver._callbacks import EpochJournal, FailureGuard, LeaderboardCallback, ProgressCallback, WarmProcesses
    from tuner.search.driver._placement import PlacementGroupReleaser
    from tuner.search.driver._watchdog import StallWatchdog

    # Module-level callback classes: Tune pickles them with the experiment and brings them
    # back on restore.
    watchdog = StallWatchdog(plan.stall_timeout)
    stopped_file = run_dir / stage / STOPPED_FILE
    stopped_file.unlink(missing_ok=True)  # a resumed stage starts afresh
    guard = FailureGuard(str(run_dir / stage), int(plan.max_consecutive_failures or 5))
    callbacks = [
        EpochJournal(str(run_dir), stage),  # first: a driver killed in a later callback keeps the epoch
        # Only Ray Train's worker placement groups can leak; warm trials' are Tune's own.
        *([PlacementGroupReleaser()] if train else [WarmProcesses()]),
        watchdog,
        guard,
        LeaderboardCallback(str(run_dir), plan, stage),
        ProgressCallback(stage, plan.metric, plan.mode, num_samples, watchdog=watchdog),
        *(extra_callbacks or []),
    ]
    fs, storage_root = tune_storage(run_dir, plan)
    exp_path = f"{storage_root}/{stage}"
    if tune.Tuner.can_restore(exp_path, storage_filesystem=fs):
        say(f"[{stage}] resuming {exp_path}")
        tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_unfinished=True, resume_errored=False, storage_filesystem=fs)
    else:
        from tuner.search.strategy._strategy import make_scheduler, make_searcher, stage_policy

        kind = "tpe" if probe else plan.sampler
        policy = stage_policy(kind, plan.space.budget.early_stopping, probe=probe)
        if kind == "grid":
            from ray.tune.search.basic_variant import BasicVariantGenerator

            from tuner.search.space._grid import grid_points

            # Every point once, in order: the study's exhaustive grid. Each point replaces one
            # sample; the keys must exist in the param space, so they are placeholders there.
            points = grid_points(plan.space)
            searcher: Any = BasicVariantGenerator(points_to_evaluate=points, max_concurrent=plan.max_concurrent or 0)
            param_space = dict.fromkeys(points[0])
        else:
            param_space = None
            seed = plan.seed + (1 if probe else 0)
            searcher = make_searcher(stage_space(plan, stage), policy, seed=seed, num_samples=num_samples, max_epochs=max_epochs, mode=plan.mode)
        scheduler = make_scheduler(policy, max_epochs=max_epochs, grace_period=plan.grace_period, reduction_factor=plan.reduction_factor)
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric="objective",
                mode=plan.mode,
                search_alg=searcher,
                scheduler=scheduler,
                num_samples=num_samples,
                # The grid's generator limits itself (Tune ignores this for it, with a warning).
                max_concurrent_trials=None if kind == "grid" else plan.max_concurrent,
                # Warm trials: the next trial runs in the process of one that ended.
                reuse_actors=not train,
                trial_dirname_creator=trial_dirname,
                trial_name_creator=trial_dirname,
            ),
            run_config=tune.RunConfig(
                name=stage,
                storage_path=storage_root,
                storage_filesystem=fs,
                callbacks=callbacks,
                stop=guard,
                verbose=0,
                # A warm trial whose process crashed is restarted by Tune from its last
                # checkpoint (Ray Train does that itself for its workers). A failure the
                # trial reported (NaN, out of memory, a user error) or a stall is final: the
                # FailureGuard and the watchdog take those trials' retries away.
                failure_config=tune.FailureConfig(max_failures=0 if train else int(plan.worker_retries), fail_fast=False),
            ),
        )
    from tuner.search.driver._interrupt import graceful_interrupt

    def stopping(name: str) -> None:
        say(f"[{stage}] {name}: stopping the search and saving it (Ctrl+C again to quit at once)", err=True)

    with graceful_interrupt(stopping) as interrupt:
        results = tuner.fit()
    # The trials Tune tracked. A trial folder staged just before a driver crash, after Tune's
    # last experiment checkpoint, is not among them: the resumed search never continues it.
    tracked = sorted(Path(r.path).name for r in (results[i] for i in range(len(results))) if r.path)
    (run_dir / stage).mkdir(exist_ok=True)
    write_atomic(run_dir / stage / TRACKED_FILE, json.dumps(tracked))
    _record_unstarted_failures(run_dir / stage, results)
    if interrupt.requested:
        from tuner.search.driver._callbacks import RUNNING_NOW

        # Every epoch so far, before the message; the trials it stopped say so (not "stopped early").
        write_run_leaderboard(run_dir, plan, stopped=RUNNING_NOW.get((str(run_dir), stage), set()))
        raise SearchInterrupted(f"the leaderboard has every epoch so far; resume with: python -m tuner.search --resume {run_dir}")
    if stopped_file.is_file():
        write_run_leaderboard(run_dir, plan)  # every trial so far, with its reason, before the error
        raise FatalTrialError(json.loads(stopped_file.read_text())["reason"])


def _record_unstarted_failures(stage_dir: Path, results: Any) -> None:
    """A trial that failed before it wrote anything (its actor never started, say) still gets
    a leaderboard row: its config and the error go where its files would have been."""
    from tuner._run import FAILURE_FILE, PARAMS_FILE
    from tuner.search.trial._trial import one_line

    for r in results:
        if not r.path or r.error is None:
            continue
        folder = stage_dir / Path(r.path).name
        if (folder / PARAMS_FILE).is_file():
            continue
        write_atomic(folder / PARAMS_FILE, json.dumps(r.config or {}, default=str))
        write_atomic(folder / FAILURE_FILE, json.dumps({"reason": f"error: {one_line(r.error)}"}))


def run_search(
    plan: Plan,
    run_dir: Path,
    resume: bool = False,
    local: bool = False,
    callbacks: list[Any] | None = None,
) -> list[TrialRow]:
    """Run (or resume) a search described by ``plan`` into ``run_dir``; returns the final rows.

    ``callbacks``: more ``ray.tune.Callback`` objects for every stage (module-level classes,
    so a resumed run can unpickle them).
    """
    run_dir = Path(run_dir).expanduser().resolve()  # Tune's storage needs an absolute path
    if not resume:
        plan = resolve_weights(plan)  # before Ray starts: a missing --weights imagenet is one line
    # Ray's output goes to RUN_DIR/ray.log; until the run folder exists (it is made once Ray
    # has checked the cluster), beside it.
    log = run_dir / LOG_FILE if resume else run_dir.parent / f".{run_dir.name}.{LOG_FILE}"
    try:
        with search_console(log) as console:
            return _run_search(plan, run_dir, resume, console, local, callbacks)
    finally:
        if not resume and not run_dir.exists():
            log.unlink(missing_ok=True)  # refused before anything ran: leave nothing behind


def _run_search(plan: Plan, run_dir: Path, resume: bool, console: Console, local: bool, callbacks: list[Any] | None) -> list[TrialRow]:
    import ray

    from tuner.data import index_dataset, open_cache

    out = console.out
    started_ray = not ray.is_initialized()
    init_ray(local)
    try:
        if plan.remote:
            if not resume:
                check_remote_is_new(plan.remote)
        else:
            check_storage(run_dir.parent)
        if not resume:
            plan = size_resources(plan, *cluster_shape())
            run_dir.mkdir(parents=True, exist_ok=False)
            console.move_log(run_dir / LOG_FILE)
            plan = plan.evolve(train_storage=join_uri(plan.remote, "train") if plan.remote else str((run_dir / "train").resolve()))
            plan = copy_groupings(run_dir, plan)
            if plan.groupings_from:
                plan = resolve_auto_groupings(run_dir, plan, Path(plan.groupings_from)).evolve(needs_probe=False)
            if not plan.needs_probe:
                plan = set_common_space(run_dir, plan)
            save_plan(plan, run_dir)
        print(
            f"run {plan.name}: {len(plan.class_names)} classes, {plan.train_images} train / "
            f"{plan.validation_images} validation images; {plan.num_samples} trials x up to {plan.max_epochs} epochs; "
            f"{plan.max_concurrent} at a time ({plan.cpus_per_trial or 0:g} CPU, {plan.gpus_per_trial or 0:g} GPU each)",
            file=out,
            flush=True,
        )
        print(f"Ray's log (its workers' output and warnings): {console.log_path}", file=out, flush=True)
        for note in (random_weights_note(plan), dropped_groupings_note(plan)):
            if note:
                print(note, file=out, flush=True)
        index = index_dataset(plan.data_dir, plan.class_name_pattern, plan.split_seed)
        t0 = time.perf_counter()
        cache = open_cache(index, plan.working_size, plan.cache_dir)
        print(f"image cache {'built' if cache.built_now else 'warm'} in {time.perf_counter() - t0:.1f}s: {cache.path}", file=out, flush=True)
        if plan.needs_probe:
            print(f"[probe] {plan.probe_samples} trials without grouping, to derive {', '.join(plan.auto_groupings)}", file=out, flush=True)
            _run_stage(run_dir, plan, "probe", callbacks)
            write_run_leaderboard(run_dir, plan)
            plan = set_common_space(run_dir, resolve_auto_groupings(run_dir, plan, run_dir)).evolve(needs_probe=False)
            save_plan(plan, run_dir)
        _run_stage(run_dir, plan, "search", callbacks)
        write_run_leaderboard(run_dir, plan)
        evaluate_top(run_dir, plan)
        ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        plan = plan.evolve(ended=ended)
        save_plan(plan, run_dir)
        rows = write_run_leaderboard(run_dir, plan, ended=ended)
        print_summary(run_dir, rows, plan, out)
        return rows
    finally:
        if started_ray and ray.is_initialized():
            ray.shutdown()


def check_resume(run_dir: Path, opts_space: str | None, opts_data: str | None) -> Plan:
    """Load a run's plan and refuse to resume it if its space or dataset changed.

    Raises:
        ConfigError: not a run directory; a different --space or --data; the space file or
            the dataset changed since the run started.
    """
    from tuner.data import index_dataset
    from tuner.search.space._load import load_space, resolve_space_path

    plan = load_plan(run_dir)
    if (run_dir / FILENAME).is_file():  # a damaged leaderboard stops here, before any trial starts
        from tuner.leaderboard import read_leaderboard

        try:
            read_leaderboard(run_dir)
        except TunerError as exc:
            raise ConfigError(f"--resume: {exc}") from None
    if opts_space is not None and resolve_space_path(opts_space).resolve() != Path(plan.space_source).resolve():
        raise ConfigError(f"--resume: this run searched the space {plan.space_source}, not {opts_space}; drop --space or start a new run")
    if opts_data is not None and user_path(opts_data, "--data").resolve() != Path(plan.data_dir).resolve():
        raise ConfigError(f"--resume: this run searched {plan.data_dir}, not {opts_data}; start a new run for other data")
    space_now = load_space(plan.space_source) if Path(plan.space_source).is_file() else None
    if space_now is None:
        raise ConfigError(f"--resume: the run's space file {plan.space_source} is gone; restore it or start a new run")
    if plan.demo:
        space_now = space_now.with_demo()
    stored = plan.space
    space_now = space_now.with_budget(num_samples=stored.budget.num_samples, max_epochs=stored.budget.max_epochs, probe_epochs=stored.budget.probe_epochs)
    if space_now.model_dump(mode="json") != stored.model_dump(mode="json"):
        raise ConfigError(
            f"--resume: the space {plan.space_source} changed since the run started; a resumed search must not mix spaces. Undo the change or start a new run"
        )
    try:
        identity = index_dataset(plan.data_dir, plan.class_name_pattern, plan.split_seed).identity
    except TunerError as exc:
        raise ConfigError(f"--resume: the run's dataset can no longer be read ({exc})") from None
    if identity != plan.identity:
        raise ConfigError(
            f"--resume: the dataset {plan.data_dir} changed since the run started (files added, removed or modified); "
            f"a resumed search must not mix data. Start a new run"
        )
    return plan
