"""``python -m tuner.search``: search how best to train an image classifier on a folder.

python -m tuner.search --space finetune                 # the demo digits, any laptop
python -m tuner.search --space finetune --data DIR --local
python -m tuner.search --resume runs/<name>
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tuner._cli import ArgumentParser, run_main

if TYPE_CHECKING:  # pragma: no cover
    from tuner.search.plan._contracts import Plan


def _parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="python -m tuner.search",
        description="Search learning rate, optimizer, dropout, architecture, unfrozen blocks and class groupings "
        "with Optuna TPE + ASHA on Ray Tune; every trial is a row of RUN_DIR/leaderboard.parquet.",
    )
    p.add_argument("--space", default=None, metavar="NAME|FILE", help="a shipped space (finetune, scratch, thesis_grid) or a YAML file (default: finetune)")
    p.add_argument("--data", metavar="DIR", help="dataset folder (default: the built-in demo digits)")
    p.add_argument("--class-name-pattern", metavar="P", help="regex whose first group is the class name, or a preset (beauty)")
    p.add_argument("--num-samples", type=int, metavar="N", help="trials to run (overrides the space's budget)")
    p.add_argument("--max-epochs", type=int, metavar="N", help="epochs per trial at most (overrides the space's budget)")
    p.add_argument("--gpus-per-trial", type=float, metavar="G", help="GPUs per trial (default: 1 when the cluster has GPUs, else 0)")
    p.add_argument("--cpus-per-trial", type=float, metavar="C", help="CPUs per trial (default: 1 on CPU, a share of the node with GPUs)")
    p.add_argument("--max-concurrent", type=int, metavar="N", help="trials at once (default: as many as the cluster holds)")
    p.add_argument(
        "--storage",
        default=None,
        metavar="PATH|URI",
        help="where run folders go (default: ./runs); on a multi-node cluster s3://bucket/prefix or a shared filesystem",
    )
    p.add_argument("--name", metavar="NAME", help="run folder name (default: <space>-<UTC time>)")
    p.add_argument(
        "--weights",
        default=None,
        metavar="auto|imagenet|none|PATH",
        help="backbone weights (default: auto = ImageNet if it can be had, else random with a warning)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the sampler and of training (default 0)")
    p.add_argument("--local", action="store_true", help="always start a Ray instance on this machine (ignore RAY_ADDRESS)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted search; finished trials are kept")
    p.add_argument("--groupings-from", metavar="RUN_DIR", help="derive auto:K groupings from this earlier run instead of a probe stage")
    p.add_argument(
        "--stall-timeout",
        type=float,
        metavar="SECONDS",
        help="end a running trial as failed (stalled) after this long without a new epoch "
        "(default: 5x the slowest epoch seen, at least 300 s); before its first epoch a trial gets at least 900 s",
    )
    p.add_argument(
        "--max-consecutive-failures",
        type=int,
        metavar="N",
        help="stop the search after N failed trials in a row (default 5); a trial whose worker hits a user error "
        "(a dataset that changed, say) stops it at once",
    )
    p.add_argument(
        "--mlflow-uri",
        metavar="URI",
        help="also log every trial as an MLflow run (params, per-epoch metrics, status, confusion matrix) to this tracking "
        "store, e.g. sqlite:///mlflow.db or http://host:5000 (default: $MLFLOW_TRACKING_URI if set; needs tuner[mlflow])",
    )
    p.add_argument("--dry-run", action="store_true", help="print the resolved space, the resource plan and the cost estimate, then exit")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tuner.search.plan._plan import Options, build_plan
    from tuner.search.plan._resources import local_resources, size_resources

    if args.resume:
        from tuner.search.driver._driver import check_resume, run_search

        _refuse_on_resume(args)
        run_dir = Path(args.resume)
        plan = check_resume(run_dir, args.space, args.data)  # None: not given
        if args.stall_timeout is not None:
            plan = plan.evolve(stall_timeout=_stall_timeout(args.stall_timeout))
        if args.max_consecutive_failures is not None:
            plan = plan.evolve(max_consecutive_failures=_max_failures(args.max_consecutive_failures))
        print(f"resuming {run_dir}", flush=True)
        run_search(plan, run_dir, resume=True, local=args.local)
        return 0
    args.storage = "runs" if args.storage is None else args.storage
    args.weights = "auto" if args.weights is None else args.weights
    args.seed = 0 if args.seed is None else args.seed
    opts = Options(
        space=args.space or "finetune",
        data=args.data,
        class_name_pattern=args.class_name_pattern,
        num_samples=args.num_samples,
        max_epochs=args.max_epochs,
        gpus_per_trial=args.gpus_per_trial,
        cpus_per_trial=args.cpus_per_trial,
        max_concurrent=args.max_concurrent,
        storage=args.storage,
        name=args.name,
        weights=args.weights,
        seed=args.seed,
        groupings_from=args.groupings_from,
        mlflow_uri=_mlflow_uri(args.mlflow_uri),
    )
    plan = build_plan(opts)
    plan = plan.evolve(
        stall_timeout=_stall_timeout(args.stall_timeout) if args.stall_timeout is not None else None,
        max_consecutive_failures=_max_failures(args.max_consecutive_failures if args.max_consecutive_failures is not None else 5),
    )
    from tuner._storage import is_uri, join_uri

    check_storage_target(args.storage)
    if is_uri(args.storage):
        # Object storage: Tune's experiments and the checkpoints go there; this machine keeps
        # the run's local folder (leaderboard, run.json, result files) under ./runs.
        plan = plan.evolve(remote=join_uri(args.storage, plan.name))
        run_dir = Path("runs") / plan.name
    else:
        run_dir = Path(args.storage).expanduser() / plan.name
    if run_dir.exists():
        from tuner.errors import ConfigError

        raise ConfigError(f"run directory {run_dir} already exists; pick another --name, or --resume {run_dir} to continue it")
    if args.dry_run:
        import os

        if not args.local and os.environ.get("RAY_ADDRESS"):
            from tuner.search.driver._cluster import cluster_shape, init_ray

            init_ray(False)
            shape = cluster_shape()
        else:
            shape = local_resources()
        plan = size_resources(plan, *shape)
        from tuner.search.plan._weights import resolve_weights

        plan = resolve_weights(plan)
        _print_dry_run(plan, run_dir)
        return 0
    from tuner.search.driver._driver import run_search

    run_search(plan, run_dir, local=args.local)
    return 0


#: What ``--resume`` does with each other flag: the run's own settings are kept, so a flag that
#: would change them is refused (one line) rather than silently ignored. ``--space`` and
#: ``--data`` are checked against the run; ``--stall-timeout``, ``--max-consecutive-failures``
#: and ``--local`` apply to the resumed search.
_RESUME_KEEPS = {
    "class_name_pattern": "--class-name-pattern",
    "num_samples": "--num-samples",
    "max_epochs": "--max-epochs",
    "gpus_per_trial": "--gpus-per-trial",
    "cpus_per_trial": "--cpus-per-trial",
    "max_concurrent": "--max-concurrent",
    "storage": "--storage",
    "name": "--name",
    "weights": "--weights",
    "seed": "--seed",
    "groupings_from": "--groupings-from",
    "mlflow_uri": "--mlflow-uri",
}


def _refuse_on_resume(args: object) -> None:
    from tuner.errors import ConfigError

    if getattr(args, "dry_run", False):
        raise ConfigError("--dry-run plans a new search and cannot be combined with --resume; run --resume alone, or --dry-run without it")
    given = [flag for attr, flag in _RESUME_KEEPS.items() if getattr(args, attr, None) is not None]
    if given:
        raise ConfigError(
            f"--resume keeps the run's own settings, so {given[0]} cannot be changed; drop it "
            "(--resume honours only --stall-timeout, --max-consecutive-failures and --local), or start a new search"
        )


#: Object stores a run may live in (pyarrow's filesystems).
STORAGE_SCHEMES = ("s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss", "az")


def check_storage_target(storage: str) -> None:
    """Refuse a ``--storage`` no run could be written to, before anything runs (a dry run too):
    an unknown URI scheme, a file, a place that cannot be created or is not writable."""
    import os
    from urllib.parse import urlsplit

    from tuner._io import short, user_path
    from tuner._storage import is_uri
    from tuner.errors import ConfigError

    if is_uri(storage):
        scheme = urlsplit(storage).scheme
        if scheme not in STORAGE_SCHEMES:
            raise ConfigError(
                f"--storage {short(storage)}: {scheme}:// is not a storage tuner can write; use a folder or {', '.join(s + '://' for s in STORAGE_SCHEMES[:3])}"
            )
        return
    path = user_path(storage, "--storage")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--storage {short(storage)} is a file; give a folder for the run folders")
    existing = path.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"--storage {short(storage)}: {short(str(existing))} is a file, so no folder can be made there; give another folder")
    import tempfile

    # os.access() says yes to root on /proc and other filesystems that refuse a folder: try one
    # (removed at once, so a dry run leaves nothing behind).
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".tuner-storage-check-", dir=existing))
    except OSError:
        raise ConfigError(
            f"--storage {short(storage)}: no folder can be made in {short(str(existing))} "
            "(permission, or a read-only or special filesystem); give a writable folder"
        ) from None


def _mlflow_uri(flag: str | None) -> str | None:
    """The tracking URI to use, checked before anything runs: MLflow must be installed."""
    from tuner.search.driver._mlflow import tracking_uri

    uri = tracking_uri(flag)
    if uri is None:
        return None
    import importlib.util

    if importlib.util.find_spec("mlflow") is None:
        from tuner.errors import ConfigError

        raise ConfigError(f"MLflow tracking to {uri} needs MLflow: pip install 'tuner[mlflow]' (or unset MLFLOW_TRACKING_URI)")
    return uri


def _stall_timeout(seconds: float) -> float:
    if not seconds > 0:
        from tuner.errors import ConfigError

        raise ConfigError(f"--stall-timeout must be a number of seconds > 0, but got {seconds:g}")
    return float(seconds)


def _print_dry_run(plan: Plan, run_dir: Path) -> None:

    from tuner.search.plan._plan import estimate

    est = estimate(plan)
    print("# resolved space")
    print(plan.space.to_yaml().rstrip())
    print("\n# dataset")
    print(
        f"{plan.data_dir}{' (built-in demo)' if plan.demo else ''}: {len(plan.class_names)} classes, "
        f"{plan.train_images} train / {plan.validation_images} validation / {plan.test_images} test images, "
        f"working size {plan.working_size} px, identity {plan.identity}"
    )
    print("\n# resources")
    assert plan.cluster is not None and plan.cpus_per_trial is not None and plan.gpus_per_trial is not None  # size_resources ran
    print(
        f"cluster: {plan.cluster.cpus:g} CPUs, {plan.cluster.gpus:g} GPUs; per trial: {plan.cpus_per_trial:g} CPU, "
        f"{plan.gpus_per_trial:g} GPU; {plan.max_concurrent} trials at a time"
    )
    from tuner.search.plan._plan import dropped_groupings_note, random_weights_note

    note = random_weights_note(plan)
    if note:
        print(f"weights: {note}")
    dropped = dropped_groupings_note(plan)
    if dropped:
        print(dropped)
    if plan.needs_probe:
        print(f"probe stage: {plan.probe_samples} trials x {plan.probe_epochs} epochs without grouping, to resolve {', '.join(plan.auto_groupings)}")
    print("\n# estimate")
    stopping = plan.space.budget.early_stopping
    if stopping == "none":
        print(
            f"trial-epochs: {est['trial_epochs']:g} (every trial to max_epochs; budget.early_stopping: none; of the"
            f" {plan.num_samples} search trials, some train the leading configuration again with another seed to confirm it)"
        )
    else:
        print(f"trial-epochs: ~{est['trial_epochs']:g} with {stopping} early stopping (at most {est['trial_epochs_exhaustive']:g} if no trial were stopped)")
    print(f"GPU-hours: ~{est['gpu_hours']:g} (assuming ~{est['assumed_images_per_second']:.0f} img/s per GPU, a T4-class card; measure yours)")
    print(f"\nrun directory: {run_dir}")


def _max_failures(n: int) -> int:
    if n < 1:
        from tuner.errors import ConfigError

        raise ConfigError(f"--max-consecutive-failures must be >= 1, but got {n}")
    return n


if __name__ == "__main__":
    run_main(main)
