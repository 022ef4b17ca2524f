"""Learning-curve tables: every point of a discrete space, trained with several seeds, every epoch.

Each (point, seed) is one real training through tuner's own trial code
(``tuner.search.worker._worker.run_training`` with the config ``trial_config`` makes from a plan that
``build_plan`` resolved), in a pool of worker processes with one CPU thread each (no Ray: the
table is about training, not scheduling). Every epoch is scored on the validation and the test
split. One Parquet row per (point, seed, epoch); see BENCHMARKS.md "Learning-curve tables" for
the columns and the metadata. Interrupted? Run the same command again: finished (point, seed)
pairs are kept in ``OUT.parts/`` and not trained again.

    python bench/_digits.py --out /tmp/digits
    python bench/tabulate.py --space bench/spaces/digits_scratch.yaml --data /tmp/digits/digits_scratch \
        --seeds 3 --out bench/tables/digits_scratch.parquet
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This folder goes last: its tabulate.py must not shadow the ``tabulate`` package Ray imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))

#: Parquet key-value metadata key holding the table's JSON description.
META_KEY = b"tuner_table"
#: Per-epoch metrics copied from the worker's report into the table.
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "val_accuracy_common", "test_accuracy", "learning_rate")


def _task_key(point: int, seed: int) -> str:
    return f"p{point:04d}-s{seed}"


def _init_worker() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import _digits  # noqa: F401  # registers digits_cnn in this process

    from tuner._quiet import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _train(task: tuple[int, int, dict[str, Any], Any, str]) -> tuple[str, float]:
    """Train one (point, seed); write its rows as one part file; return (key, seconds)."""
    import pandas as pd

    from tuner.search.trial._trial import trial_config
    from tuner.search.worker._worker import run_training

    point_id, seed, point, plan, parts = task
    t0 = time.perf_counter()
    cfg = trial_config(point, plan.evolve(seed=seed)).model_copy(update={"score_test": "every", "cpus": 1})
    rows: list[dict[str, Any]] = []
    last_train = 0.0

    def report(metrics: dict[str, Any], _directory: str | None) -> None:
        nonlocal last_train
        if not metrics.get("epoch"):
            return
        spent = float(metrics.get("train_seconds", 0.0))
        rows.append(
            {
                "point": point_id,
                "seed": seed,
                "epoch": int(metrics["epoch"]),
                **point,
                **{m: float(metrics[m]) if metrics.get(m) is not None else float("nan") for m in METRICS},
                "seconds": spent - last_train,
                "setup_seconds": float(metrics.get("setup_seconds", 0.0)),
                "failure_reason": metrics.get("failure_reason") or "",
            }
        )
        last_train = spent

    run_training(cfg, report)
    frame = pd.DataFrame(rows)
    tmp = Path(parts) / f".{_task_key(point_id, seed)}.tmp"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, Path(parts) / f"{_task_key(point_id, seed)}.parquet")  # atomic: a part is whole or absent
    return _task_key(point_id, seed), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", required=True, help="a fully discrete space file (choice / int / fixed only)")
    ap.add_argument("--data", required=True, help="dataset folder (a validation split of 334+ images keeps one image under 0.3 points)")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds per point (0..S-1)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs per training (default: the space's max_epochs)")
    ap.add_argument("--weights", default="none", help="backbone weights: none or a weights file (bench/_digits.py writes one)")
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 1)), help="training processes (one CPU thread each)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N points (a smoke test)")
    ap.add_argument("--out", type=Path, required=True, help="the table, a .parquet file")
    args = ap.parse_args(argv)

    import _digits  # noqa: F401  # digits_cnn must be registered before the space is read
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tuner.errors import TunerError
    from tuner.search.plan._plan import Options, build_plan
    from tuner.search.space._grid import grid_points

    try:
        plan = build_plan(Options(space=args.space, data=args.data, max_epochs=args.epochs, weights=args.weights))
    except TunerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    plan = plan.evolve(weights=dict.fromkeys(plan.architectures, args.weights), cpus_per_trial=1, test_top=1)
    points = grid_points(plan.space)[: args.limit]
    parts = Path(str(args.out) + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    meta = {
        "space": plan.space.model_dump(mode="json"),
        "space_file": str(args.space),
        "metric": plan.metric,
        "mode": plan.mode,
        "max_epochs": plan.max_epochs,
        "seeds": args.seeds,
        "points": len(points),
        "identity": plan.identity,
        "train_images": plan.train_images,
        "validation_images": plan.validation_images,
        "test_images": plan.test_images,
        "weights": Path(args.weights).name,
        "command": "python bench/tabulate.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "cpu_threads_per_training": 1,
        "workers": args.workers,
    }
    stamp = parts / "meta.json"
    if stamp.is_file():
        old = json.loads(stamp.read_text())
        if (old["space"], old["identity"], old["max_epochs"], old["weights"]) != (meta["space"], meta["identity"], meta["max_epochs"], meta["weights"]):
            print(f"error: {parts} holds trainings of another space, dataset, epoch count or weights; delete it or choose another --out", file=sys.stderr)
            return 2
    stamp.write_text(json.dumps(meta))
    tasks = [(i, s, p, plan, str(parts)) for i, p in enumerate(points) for s in range(args.seeds)]
    todo = [t for t in tasks if not (parts / f"{_task_key(t[0], t[1])}.parquet").is_file()]
    done = len(tasks) - len(todo)
    print(f"{len(points)} points x {args.seeds} seeds x {plan.max_epochs} epochs: {done} of {len(tasks)} trainings done, {len(todo)} to go", flush=True)
    t0 = time.perf_counter()
    if todo:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.workers, initializer=_init_worker, maxtasksperchild=20) as pool:
            for k, (key, seconds) in enumerate(pool.imap_unordered(_train, todo), start=1):
                elapsed = time.perf_counter() - t0
                eta = elapsed / k * (len(todo) - k)
                print(f"[{k}/{len(todo)}] {key} {seconds:.1f} s; elapsed {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min", flush=True)
    import pandas as pd

    frame = pd.concat([pd.read_parquet(parts / f"{_task_key(i, s)}.parquet") for i, s, *_ in tasks], ignore_index=True)
    frame = frame.sort_values(["point", "seed", "epoch"], ignore_index=True)
    meta["build_minutes"] = round((time.perf_counter() - t0) / 60, 1)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta).encode()})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=args.out.parent, suffix=".tmp", delete=False) as fh:
        tmp = fh.name
    pq.write_table(table, tmp)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: {len(frame)} rows ({frame['point'].nunique()} points x {frame['seed'].nunique()} seeds), {meta['build_minutes']} min this run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
