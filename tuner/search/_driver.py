"""The search driver: Ray Tune over function trials, Optuna TPE, ASHA, the leaderboard.

Follows design.md section 1a (verified on Ray 2.60): a trial actor that holds no CPU runs one
``TensorflowTrainer.fit()``; concurrency is sized to the cluster; the dashboard runs (bound to
localhost) so Ray Train can release the placement groups of trials ASHA stops; reporting
latency is tuned with ``RAY_TRAIN_HEALTH_CHECK_INTERVAL_S``. TensorFlow is never imported here.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

from tuner._run import STOPPED_FILE
from tuner._storage import join_uri
from tuner.errors import ConfigError, FatalTrialError, SearchInterrupted, TunerError
from tuner.leaderboard import FILENAME
from tuner.search._board import test_scores, tune_storage, write_run_leaderboard
from tuner.search._console import LOG_FILE, Console, say, search_console
from tuner.search._plan import common_grouping, load_plan, random_weights_note, save_plan, size_resources, stage_space
from tuner.search._rows import TRACKED_FILE, collect_rows

__all__ = ["check_resume", "init_ray", "run_search", "trial_dirname", "write_run_leaderboard"]

_log = logging.getLogger("tuner.search")

#: Environment for every process of the search (set before Ray starts, passed to workers).
RAY_ENV = {
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.1",  # ray.train.report: ~2 s -> ~0.16 s
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
    "RAY_AIR_NEW_OUTPUT": "0",
    # Ray Train gives up on a worker group after 60 s; on a small machine a trial can wait
    # that long for the CPUs of a trial Tune is still tearing down.
    "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "600",
    # A trial Tune stops (ASHA) sits in Train's fit() and cannot exit gracefully; Ray waits
    # 30 s by default before force-killing it, holding its CPUs/GPUs all that time. Read by
    # the GCS when Ray starts here (cluster.yaml sets it for a cluster).
    "RAY_actor_graceful_shutdown_timeout_ms": "3000",
    # Tune writes trial results in a local staging folder and copies them (and its own
    # state) into the run directory at each experiment checkpoint: every 5 s, so a killed
    # search loses at most a few seconds of results.
    "TUNE_GLOBAL_CHECKPOINT_S": "5",
    # A trial restored by --resume whose Train run had already finished returns without a
    # new report in this process; Tune must not treat that as an error.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",  # Tune's classic output honours verbose=0; tuner prints its own progress
}


HEAD_NODE_RESOURCE = "node:__internal_head__"  # Ray's built-in resource of the head node


def trial_dirname(trial: Any) -> str:
    """Trial folders are named by trial id (module-level: pickled into the experiment state)."""
    return trial.trial_id


def init_ray(local: bool, num_cpus: int | None = None) -> None:
    """Join the running cluster unless ``local``, else start Ray on this machine.

    Without ``local``: ``RAY_ADDRESS`` if set, else a cluster ``ray start`` runs on this
    machine (the head node of ``ray up``), else a new local instance. With ``local``: always
    a new instance on this machine, even beside a running cluster.
    """
    import ray

    os.environ.update(RAY_ENV)
    if ray.is_initialized():
        return
    # Ray 2.60 announces at every start that token authentication is on (it stays on); the
    # line would otherwise precede a user-error message, which must be one line.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {
        "runtime_env": {"env_vars": dict(RAY_ENV)},
        "logging_level": logging.WARNING,
    }
    if not local and os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], **kwargs)
        return
    os.environ.pop("RAY_ADDRESS", None)
    # Only a Ray instance started here inherits this (a cluster's nodes keep their own
    # setting): one machine has no node to drain, and Train's preemption watcher is one more
    # actor process per trial, which costs each trial's start seconds on a small machine.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
    # The dashboard process is what lets Ray Train release the placement groups of trials
    # ASHA stops (design.md 1a); bind it to this machine only.
    ray.init(
        # "local" never joins a cluster ray start runs here; None joins one if there is.
        address="local" if local else None,
        num_cpus=num_cpus if local else None,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        **kwargs,
    )


def storage_problem(root: str, visible: dict[str, bool]) -> str | None:
    """Why ``root`` cannot hold a run on this cluster, or ``None``.

    Args:
        root: The local ``--storage`` folder.
        visible: Per node id, whether a file the driver wrote under ``root`` is seen there.
    """
    if len(visible) < 2:
        return None
    blind = sorted(n for n, ok in visible.items() if not ok)
    if not blind:
        return None
    names = ", ".join(n[:12] for n in blind[:3]) + (" ..." if len(blind) > 3 else "")
    return (
        f"--storage {root!r} is a local folder that {len(blind)} of the cluster's {len(visible)} nodes cannot see "
        f"({names}); trials write checkpoints from their own node, so on a multi-node cluster use "
        f"--storage s3://bucket/prefix or a shared filesystem mounted at the same path on every node"
    )


def _check_storage(root: Path) -> None:
    """Refuse a local ``--storage`` that some node of a multi-node cluster does not share."""
    import uuid

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    if len(nodes) < 2:
        return
    root.mkdir(parents=True, exist_ok=True)
    marker = root / f".tuner-storage-check-{uuid.uuid4().hex}"
    marker.write_text("tuner")

    @ray.remote(num_cpus=0)
    def sees(path: str) -> bool:
        return os.path.exists(path)

    try:
        refs = {n: sees.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote(str(marker)) for n in nodes}
        visible = {n: bool(ray.get(ref, timeout=120)) for n, ref in refs.items()}
    finally:
        marker.unlink(missing_ok=True)
    problem = storage_problem(str(root), visible)
    if problem:
        raise ConfigError(problem)


def _check_remote_is_new(remote: str) -> None:
    """Refuse to start a run in a remote folder that already holds one (nothing is overwritten)."""
    import pyarrow.fs as pafs

    from tuner._storage import display_uri, open_uri

    fs, path = open_uri(remote)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        raise ConfigError(
            f"{display_uri(remote)} already exists; pick another --name (a remote run is resumed from its local folder with --resume runs/<name>)"
        )


def _cluster_shape() -> tuple[float, float, float, float]:
    import ray

    total = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    node_gpus = max((n["Resources"].get("GPU", 0.0) for n in nodes), default=0.0)
    node_cpus = max((n["Resources"].get("CPU", 0.0) for n in nodes), default=0.0)
    return float(total.get("CPU", 0.0)), float(total.get("GPU", 0.0)), float(node_gpus), float(node_cpus)


def _run_stage(run_dir: Path, plan: dict[str, Any], stage: str, extra_callbacks: list[Any] | None = None) -> None:
    import optuna
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from tuner.search._trial import tune_trial

    probe = stage == "probe"
    num_samples = plan["probe_samples"] if probe else plan["num_samples"]
    max_epochs = plan["probe_epochs"] if probe else plan["max_epochs"]
    stage_plan = {**{k: v for k, v in plan.items() if not k.startswith("_")}, "max_epochs": max_epochs, "stage": stage, "run_dir": str(run_dir)}
    if probe:
        stage_plan["grouping_files"] = {}
        stage_plan["common_grouping_file"] = None
    trainable = tune.with_resources(
        tune.with_parameters(tune_trial, plan=stage_plan),
        # The trial actor only drives Ray Train; its worker holds the CPUs/GPUs (design.md 1a).
        # It (and the Train controller Ray attaches to its node) lives on the head node, so
        # losing a GPU node (spot reclaim, crash) costs that node's workers only: Train
        # restarts them elsewhere from the last checkpoint instead of the trial erroring.
        {"CPU": 0, "memory": 1, HEAD_NODE_RESOURCE: 0.001},
    )
    from tuner.search._callbacks import (
        FailureGuard,
        LeaderboardCallback,
        PlacementGroupReleaser,
        ProgressCallback,
        StallWatchdog,
    )

    # Module-level callback classes: Tune pickles them with the experiment and brings them
    # back on restore.
    watchdog = StallWatchdog(plan.get("stall_timeout"))
    stopped_file = run_dir / stage / STOPPED_FILE
    stopped_file.unlink(missing_ok=True)  # a resumed stage starts afresh
    guard = FailureGuard(str(run_dir / stage), int(plan.get("max_consecutive_failures") or 5))
    callbacks = [
        PlacementGroupReleaser(),
        watchdog,
        guard,
        LeaderboardCallback(str(run_dir), plan, stage),
        ProgressCallback(stage, plan["metric"], plan["mode"], num_samples, watchdog=watchdog),
        *(extra_callbacks or []),
    ]
    fs, storage_root = tune_storage(run_dir, plan)
    exp_path = f"{storage_root}/{stage}"
    if tune.Tuner.can_restore(exp_path, storage_filesystem=fs):
        say(f"[{stage}] resuming {exp_path}")
        tuner = tune.Tuner.restore(exp_path, trainable=trainable, resume_unfinished=True, resume_errored=False, storage_filesystem=fs)
    else:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler: optuna.samplers.BaseSampler = optuna.samplers.TPESampler(
                seed=plan["seed"] + (1 if probe else 0),
                multivariate=True,
                group=True,  # conditional parameters (per-architecture ranges)
                n_startup_trials=max(2, min(10, num_samples // 3)),
            )
        kind = "tpe" if probe else plan.get("sampler", "tpe")
        if kind == "grid":
            from ray.tune.search.basic_variant import BasicVariantGenerator

            from tuner.search._space import SearchSpace, grid_points

            # Every point once, in order: the study's exhaustive grid. Each point replaces one
            # sample; the keys must exist in the param space, so they are placeholders there.
            points = grid_points(SearchSpace.model_validate(plan["space"]))
            searcher: Any = BasicVariantGenerator(points_to_evaluate=points, max_concurrent=plan["max_concurrent"])
            param_space = dict.fromkeys(points[0])
        else:
            param_space = None
            if kind == "random":
                sampler = optuna.samplers.RandomSampler(seed=plan["seed"])
            searcher = OptunaSearch(space=stage_space(plan, stage), metric="objective", mode=plan["mode"], sampler=sampler)
        scheduler = ASHAScheduler(
            time_attr="epoch",  # reported by the worker; survives restore, unlike training_iteration
            # One past the last epoch: a trial that reaches max_epochs ends by itself, cleanly,
            # instead of being killed by Tune while its Train run shuts down.
            max_t=max_epochs + 1,
            # The probe's few trials must end with a model that learned: ASHA stops none of them.
            grace_period=max_epochs if probe else min(plan["grace_period"], max_epochs),
            reduction_factor=plan["reduction_factor"],
        )
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric="objective",
                mode=plan["mode"],
                search_alg=searcher,
                scheduler=scheduler,
                num_samples=num_samples,
                # The grid's generator limits itself (Tune ignores this for it, with a warning).
                max_concurrent_trials=None if kind == "grid" else plan["max_concurrent"],
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
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
            ),
        )
    from tuner.search._interrupt import graceful_interrupt

    def stopping(name: str) -> None:
        say(f"[{stage}] {name}: stopping the search and saving it (Ctrl+C again to quit at once)", err=True)

    with graceful_interrupt(stopping) as interrupt:
        results = tuner.fit()
    # The trials Tune tracked. A trial folder staged just before a driver crash, after Tune's
    # last experiment checkpoint, is not among them: the resumed search never continues it.
    tracked = sorted(Path(r.path).name for r in (results[i] for i in range(len(results))) if r.path)
    (run_dir / stage).mkdir(exist_ok=True)
    (run_dir / stage / TRACKED_FILE).write_text(json.dumps(tracked))
    _record_unstarted_failures(run_dir / stage, results)
    if interrupt.requested:
        from tuner.search._callbacks import RUNNING_NOW

        # Every epoch so far, before the message; the trials it stopped say so (not "stopped early").
        write_run_leaderboard(run_dir, plan, stopped=RUNNING_NOW.get((str(run_dir), stage), set()))
        raise SearchInterrupted(f"the leaderboard has every epoch so far; resume with: python -m tuner.search --resume {run_dir}")
    if stopped_file.is_file():
        write_run_leaderboard(run_dir, plan)  # every trial so far, with its reason, before the error
        raise FatalTrialError(json.loads(stopped_file.read_text())["reason"])


def _record_unstarted_failures(stage_dir: Path, results: Any) -> None:
    """A trial that failed before it wrote anything (its actor never started, say) still gets
    a leaderboard row: its config and the error go where its files would have been."""
    from tuner._run import FAILURE_FILE
    from tuner.search._trial import one_line

    for r in results:
        if not r.path or r.error is None:
            continue
        folder = stage_dir / Path(r.path).name
        if (folder / "params.json").is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "params.json").write_text(json.dumps(r.config or {}, default=str))
        (folder / FAILURE_FILE).write_text(json.dumps({"reason": f"error: {one_line(r.error)}"}))


_WEIGHTS_CHECK = """
import json, sys, warnings
from tuner._quiet import import_tensorflow_quietly
import_tensorflow_quietly()
import keras
keras.config.disable_interactive_logging()
warnings.filterwarnings("ignore")
from tuner.zoo._build import _imagenet_available
print(json.dumps(_imagenet_available(sys.argv[1], int(sys.argv[2]))))
"""


def resolve_weights(plan: dict[str, Any]) -> None:
    """Turn ``--weights`` into what each architecture's trials use, before any trial starts.

    ``auto`` and ``imagenet`` have to try loading the weights, which needs TensorFlow: that
    runs in a short child process per architecture (in parallel), not in this driver, and
    before Ray starts, so a ``--weights imagenet`` that cannot be satisfied is one line.
    """
    import subprocess

    policy = plan["weights_policy"]
    if policy == "none" or plan["kind"] == "scratch":
        plan["weights"] = {a: ("none" if policy in ("auto", "none", "imagenet") else policy) for a in plan["architectures"]}
        return
    if policy not in ("auto", "imagenet"):
        plan["weights"] = {a: policy for a in plan["architectures"]}
        return
    from tuner.search._space import SearchSpace
    from tuner.zoo import get_spec

    space = SearchSpace.model_validate(plan["space"])
    size = space.param("input_size")
    checks = {}
    for arch in plan["architectures"]:
        spec = get_spec(arch)
        value = (size.values() or ["default"])[0] if size is not None else "default"
        px = spec.default_input_size if value == "default" else max(int(value), spec.min_input_size)
        checks[arch] = subprocess.Popen([sys.executable, "-c", _WEIGHTS_CHECK, arch, str(px)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    resolved = {}
    for arch, proc in checks.items():
        out, err = proc.communicate(timeout=600)
        try:
            why = json.loads(out.strip().splitlines()[-1]) if out.strip() else f"check failed: {err.strip().splitlines()[-1:]}"
        except ValueError:
            why = f"check failed: {out.strip()[-200:]}"
        if why is None:
            resolved[arch] = "imagenet"
        elif policy == "imagenet":
            raise ConfigError(
                f"--weights imagenet: ImageNet weights for {arch} could not be had ({why}); "
                f"put them in ~/.keras/models or use --weights auto (falls back to random) or none"
            )
        else:
            say(f"warning: ImageNet weights for {arch} could not be had ({why[:120]}); its trials start from random weights", err=True)
            resolved[arch] = "none"
    plan["weights"] = resolved


def _copy_groupings(run_dir: Path, plan: dict[str, Any]) -> None:
    """Keep a copy of every named grouping in the run folder, so the run stays readable (and
    its models exportable) if the original file changes or the folder moves."""
    import shutil

    folder = run_dir / "groupings"
    for label, path in list(plan["grouping_files"].items()):
        if not Path(path).is_file():
            continue
        folder.mkdir(exist_ok=True)
        target = folder / Path(path).name
        if target.exists():
            target = folder / f"{label}.yaml"
        shutil.copyfile(path, target)
        plan["grouping_files"][label] = str(target)


def _resolve_auto_groupings(run_dir: Path, plan: dict[str, Any], source_dir: Path) -> None:
    """Fix every ``auto:K`` candidate to one grouping file, from the best probe (or earlier) trial."""
    import numpy as np

    from tuner._run import CONFUSION_FILE, load_run
    from tuner.data._names import safe_filename
    from tuner.groupings import grouping_yaml, suggest_grouping, why_not_learned

    source = load_run(source_dir)
    best = source.best_row(with_checkpoint=True, fine_labels_only=True)
    if best is None:
        raise TunerError(
            f"no usable trial in {source_dir} to derive auto groupings from (all failed or none scored); "
            f"check the failures in its leaderboard, or drop auto:* from params.grouping"
        )
    checkpoint = source.checkpoint(best)
    assert checkpoint is not None  # best_row(with_checkpoint=True) has one
    confusion = np.load(checkpoint / CONFUSION_FILE)
    why = why_not_learned(confusion)
    if why:
        # Clustering a model at chance would merge random classes and score every grouped
        # trial on that noise: search without the auto candidates instead.
        plan["dropped_groupings"] = sorted(plan["auto_groupings"])
        say(
            f"warning: {', '.join(plan['dropped_groupings'])} dropped: the best {'probe ' if source_dir == run_dir else ''}trial "
            f"{best['trial_id']} of {source_dir.name}: {why}. The search goes on without them; for groupings give the probe "
            f"more epochs (budget.probe_epochs) or more data, or use --groupings-from a run that learned",
            err=True,
        )
        return
    folder = run_dir / "groupings"
    folder.mkdir(exist_ok=True)
    groupings = []
    for label, k in plan["auto_groupings"].items():
        name = "auto_" + safe_filename(label.split(":", 1)[1].replace("%", "pct"))
        suggested = suggest_grouping(confusion, plan["class_names"], int(k), name=name)
        path = folder / f"{name}.yaml"
        path.write_text(grouping_yaml(suggested, f"trial {best['trial_id']} of {source_dir.name}"))
        plan["grouping_files"][label] = str(path)
        groupings.append(suggested.grouping)
    plan["_auto_resolved"] = groupings


def _set_common_space(run_dir: Path, plan: dict[str, Any]) -> None:
    from tuner.data import load_grouping

    groupings = [load_grouping(p) for p in plan["grouping_files"].values()]
    common = common_grouping(plan["class_names"], groupings)
    if common is None:
        plan["common_grouping_file"] = None
        return
    import yaml

    folder = run_dir / "groupings"
    folder.mkdir(exist_ok=True)
    path = folder / "common.yaml"
    body = {"name": common.name, "groups": {g: list(m) for g, m in common.groups.items()}}
    path.write_text(
        "# The common label space of this search: every grouping candidate maps into it, and\n"
        "# val_accuracy_common scores all trials on it, so merging classes alone cannot win.\n" + yaml.safe_dump(body, sort_keys=False)
    )
    plan["common_grouping_file"] = str(path)


def _evaluate_top(run_dir: Path, plan: dict[str, Any]) -> None:
    """Score the best few search trials on the test split, in a Ray task (TensorFlow there)."""
    import ray

    from tuner.search._trial import trial_config

    if not plan.get("test_images") or not plan.get("test_top"):
        return
    scores = test_scores(run_dir)
    rows = [
        r
        for r in collect_rows(run_dir, plan["metric"], plan["mode"], storage_root=tune_storage(run_dir, plan)[1])
        if r["stage"] == "search" and r["status"] != "failed" and r["checkpoint_path"]
    ]
    todo = []
    for row in rows[: plan["test_top"]]:
        if row["trial_id"] in scores:
            continue
        ended = _worker_test_scores(run_dir, row)
        if ended:
            scores[row["trial_id"]] = ended
        else:
            todo.append(row)
    if not todo:
        (run_dir / "test_scores.json").write_text(json.dumps(scores, indent=1))
        return

    @ray.remote(num_cpus=plan["cpus_per_trial"], num_gpus=plan["gpus_per_trial"] or 0)
    def evaluate(cfg: dict[str, Any], checkpoint: str, remote: str | None) -> dict[str, float]:
        import tempfile

        from tuner.search._worker import evaluate_checkpoint

        if remote:  # this task may run on any node: fetch the checkpoint here
            from tuner._storage import download_dir

            with tempfile.TemporaryDirectory() as tmp:
                return evaluate_checkpoint(cfg, str(download_dir(remote, checkpoint, Path(tmp))), "test")
        return evaluate_checkpoint(cfg, checkpoint, "test")

    refs = {}
    for row in todo:
        params = json.loads((run_dir / row["trial_dir"] / "params.json").read_text())
        where = row["checkpoint_path"] if plan.get("remote") else str(run_dir / row["checkpoint_path"])
        refs[row["trial_id"]] = evaluate.remote(trial_config(params, plan), where, plan.get("remote"))
    for trial_id, ref in refs.items():
        try:
            scores[trial_id] = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a failed evaluation leaves that cell empty
            say(f"warning: test evaluation of trial {trial_id} failed: {exc}", err=True)
    (run_dir / "test_scores.json").write_text(json.dumps(scores, indent=1))


def _worker_test_scores(run_dir: Path, row: dict[str, Any]) -> dict[str, float] | None:
    """The test scores the trial's worker computed at the row's best epoch, if it did."""
    from tuner._run import journal_path
    from tuner.search._rows import read_trial

    if not row.get("trial_dir") or not row.get("best_epoch"):
        return None
    data = read_trial(run_dir / row["trial_dir"], journal_path(run_dir, row["stage"], row["trial_id"]))
    at_best = [r for r in (data or {}).get("results", []) if r.get("epoch") == row["best_epoch"] and r.get("test_accuracy") is not None]
    if not at_best:
        return None
    return {k: float(at_best[-1][k]) for k in ("test_accuracy", "test_accuracy_common") if at_best[-1].get(k) is not None}


def _summary(run_dir: Path, rows: list[dict[str, Any]], plan: dict[str, Any], out: TextIO) -> None:
    search = [r for r in rows if r["stage"] == "search"]
    statuses = {s: sum(1 for r in search if r["status"] == s) for s in ("completed", "stopped_early", "failed")}
    print(
        f"\n{len(search)} trials: {statuses['completed']} completed, {statuses['stopped_early']} stopped early by ASHA, "
        f"{statuses['failed']} failed" + (f" (+{len(rows) - len(search)} probe trials)" if len(rows) > len(search) else ""),
        file=out,
    )
    epochs = sum(int(r["epochs_run"] or 0) for r in rows)
    probe = sum(int(r["epochs_run"] or 0) for r in rows if r["stage"] == "probe")
    seconds = sum(((r["setup_seconds"] or 0.0) + (r["train_seconds"] or 0.0)) * max(r["gpus"] or 0.0, 1.0) for r in rows)
    gpu = any((r["gpus"] or 0.0) > 0 for r in rows)
    print(
        f"compute: {epochs} trial-epochs"
        + (f" ({probe} of them in the probe stage)" if probe else "")
        + f", {seconds / 3600:.3g} {'GPU-hours' if gpu else 'CPU trial-hours'}",
        file=out,
    )
    top = [r for r in search if r["objective"] is not None and r["status"] != "failed"][:5]
    if top:
        metric = plan["metric"]
        print(f"\ntop {len(top)} by {metric}:", file=out)
        print(
            f"  {'trial':<12} {'architecture':<16} {metric:>20} {'val_acc':>8} {'test_acc':>8} {'k':>3} {'lr':>9} {'optimizer':<13} {'grouping':<10} {'epochs':>6}  status",  # noqa: E501
            file=out,
        )
        for r in top:
            test = f"{r['test_accuracy']:.4f}" if r.get("test_accuracy") is not None else "-"
            print(
                f"  {r['trial_id']:<12} {r['architecture']:<16} {r['objective']:>20.4f} {r['val_accuracy'] or 0:>8.4f} {test:>8} "
                f"{r['unfrozen_blocks'] if r['unfrozen_blocks'] is not None else '-':>3} {r['lr']:>9.2e} {r['optimizer']:<13} "
                f"{r['grouping']!s:<10} {r['epochs_run']:>6}  {r['status']}",
                file=out,
            )
    n = len(plan["class_names"])
    fine = [r for r in rows if r["status"] != "failed" and r["n_classes"] == n and r["val_accuracy"] is not None]
    own = max(fine, key=lambda r: r["val_accuracy"]) if fine else None
    # Whenever the best model on the dataset's own labels is not the top row (a grouped trial
    # tops the objective, or a probe trial trained longer): the figure a user compares with.
    if top and own is not None and (top[0]["n_classes"] != n or own["val_accuracy"] > (top[0]["val_accuracy"] or 0)):
        print(
            f"  best on all {n} classes (no grouping): trial {own['trial_id']} ({own['stage']}), "
            f"val_accuracy {own['val_accuracy']:.4f} at epoch {own['best_epoch']}",
            file=out,
        )
    failed = [r for r in search if r["status"] == "failed"]
    for r in failed[:5]:
        print(f"  failed {r['trial_id']}: {r['failure_reason']}", file=out)
    print(f"\nleaderboard: {run_dir / FILENAME}", file=out)
    print(f"report:      python -m tuner.report {run_dir}", file=out)
    print(f"tensorboard: tensorboard --logdir {run_dir}", file=out)


def run_search(
    plan: dict[str, Any],
    run_dir: Path,
    resume: bool = False,
    out: TextIO | None = None,
    num_cpus: int | None = None,
    local: bool = False,
    callbacks: list[Any] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) a search described by ``plan`` into ``run_dir``; returns the final rows.

    ``callbacks``: more ``ray.tune.Callback`` objects for every stage (module-level classes,
    so a resumed run can unpickle them).
    """
    run_dir = Path(run_dir).expanduser().resolve()  # Tune's storage needs an absolute path
    if not resume:
        resolve_weights(plan)  # before Ray starts: a missing --weights imagenet is one line
    # Ray's output goes to RUN_DIR/ray.log; until the run folder exists (it is made once Ray
    # has checked the cluster), beside it.
    log = run_dir / LOG_FILE if resume else run_dir.parent / f".{run_dir.name}.{LOG_FILE}"
    try:
        with search_console(log, out) as console:
            return _run_search(plan, run_dir, resume, console, num_cpus, local, callbacks)
    finally:
        if not resume and not run_dir.exists():
            log.unlink(missing_ok=True)  # refused before anything ran: leave nothing behind


def _run_search(
    plan: dict[str, Any], run_dir: Path, resume: bool, console: Console, num_cpus: int | None, local: bool, callbacks: list[Any] | None
) -> list[dict[str, Any]]:
    import ray

    from tuner.data import index_dataset, open_cache

    out = console.out
    started_ray = not ray.is_initialized()
    init_ray(local, num_cpus)
    try:
        if plan.get("remote"):
            if not resume:
                _check_remote_is_new(plan["remote"])
        else:
            _check_storage(run_dir.parent)
        if not resume:
            size_resources(plan, *_cluster_shape())
            run_dir.mkdir(parents=True, exist_ok=False)
            console.move_log(run_dir / LOG_FILE)
            plan["train_storage"] = join_uri(plan["remote"], "train") if plan.get("remote") else str((run_dir / "train").resolve())
            _copy_groupings(run_dir, plan)
            if plan.get("groupings_from"):
                _resolve_auto_groupings(run_dir, plan, Path(plan["groupings_from"]))
                plan["needs_probe"] = False
            if not plan["needs_probe"]:
                _set_common_space(run_dir, plan)
            save_plan(plan, run_dir)
        print(
            f"run {plan['name']}: {len(plan['class_names'])} classes, {plan['train_images']} train / "
            f"{plan['validation_images']} validation images; {plan['num_samples']} trials x up to {plan['max_epochs']} epochs; "
            f"{plan['max_concurrent']} at a time ({plan['cpus_per_trial']:g} CPU, {plan['gpus_per_trial']:g} GPU each)",
            file=out,
            flush=True,
        )
        print(f"Ray's log (its workers' output and warnings): {console.log_path}", file=out, flush=True)
        note = random_weights_note(plan)
        if note:
            print(note, file=out, flush=True)
        index = index_dataset(plan["data_dir"], plan.get("class_name_pattern"), plan.get("split_seed", 0))
        t0 = time.perf_counter()
        cache = open_cache(index, plan["working_size"], plan.get("cache_dir"))
        print(f"image cache {'built' if cache.built_now else 'warm'} in {time.perf_counter() - t0:.1f}s: {cache.path}", file=out, flush=True)
        if plan.get("needs_probe"):
            print(f"[probe] {plan['probe_samples']} trials without grouping, to derive {', '.join(plan['auto_groupings'])}", file=out, flush=True)
            _run_stage(run_dir, plan, "probe", callbacks)
            write_run_leaderboard(run_dir, plan)
            _resolve_auto_groupings(run_dir, plan, run_dir)
            _set_common_space(run_dir, plan)
            plan["needs_probe"] = False
            save_plan(plan, run_dir)
        _run_stage(run_dir, plan, "search", callbacks)
        write_run_leaderboard(run_dir, plan)
        _evaluate_top(run_dir, plan)
        ended = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        plan["ended"] = ended
        save_plan(plan, run_dir)
        rows = write_run_leaderboard(run_dir, plan, ended=ended)
        _summary(run_dir, rows, plan, out)
        return rows
    finally:
        if started_ray and ray.is_initialized():
            ray.shutdown()


def check_resume(run_dir: Path, opts_space: str | None, opts_data: str | None) -> dict[str, Any]:
    """Load a run's plan and refuse to resume it if its space or dataset changed.

    Raises:
        ConfigError: not a run directory; a different --space or --data; the space file or
            the dataset changed since the run started.
    """
    from tuner.data import index_dataset
    from tuner.search._space import SearchSpace, load_space

    plan = load_plan(run_dir)
    if opts_data is not None and Path(opts_data).expanduser().resolve() != Path(plan["data_dir"]).resolve():
        raise ConfigError(f"--resume: this run searched {plan['data_dir']}, not {opts_data}; start a new run for other data")
    space_now = load_space(plan["space_source"]) if Path(plan["space_source"]).is_file() else None
    if space_now is None:
        raise ConfigError(f"--resume: the run's space file {plan['space_source']} is gone; restore it or start a new run")
    if plan.get("demo"):
        space_now = space_now.with_demo()
    stored = SearchSpace.model_validate(plan["space"])
    space_now = space_now.with_budget(num_samples=stored.budget.num_samples, max_epochs=stored.budget.max_epochs)
    if space_now.model_dump(mode="json") != stored.model_dump(mode="json"):
        raise ConfigError(
            f"--resume: the space {plan['space_source']} changed since the run started; a resumed search must not mix "
            f"spaces. Undo the change or start a new run"
        )
    try:
        identity = index_dataset(plan["data_dir"], plan.get("class_name_pattern"), plan.get("split_seed", 0)).identity
    except TunerError as exc:
        raise ConfigError(f"--resume: the run's dataset can no longer be read ({exc})") from None
    if identity != plan["identity"]:
        raise ConfigError(
            f"--resume: the dataset {plan['data_dir']} changed since the run started (files added, removed or modified); "
            f"a resumed search must not mix data. Start a new run"
        )
    return plan
