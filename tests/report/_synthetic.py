"""A large run folder for report tests and the report benchmark, without training 1,000 models.

The leaderboard is written with the real writer and metadata (the shipped ``finetune`` space);
rows follow a plausible response surface so fANOVA has something to find: accuracy rises
with unfrozen blocks up to a point and falls away from a learning rate of 1e-3. Real search
runs are reported in the other tests; this one is about scale and edge cases.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests._rows import typed
from tuner.leaderboard import FILENAME, write_leaderboard
from tuner.search import load_space
from tuner.search.space._grid import sweep_info

ARCHS = {"inception_v3": 11, "mobilenet_v2": 18, "resnet50": 16}
GROUPINGS = {"none": 0, "auto_6": 6, "auto_4": 4}


def write_synthetic_run(
    run_dir: Path,
    n_trials: int = 1000,
    n_classes: int = 10,
    failed_share: float = 0.05,
    max_epochs: int = 10,
    groupings: bool = True,
    seed: int = 0,
) -> Path:
    """Write ``run_dir/leaderboard.parquet`` (+ groupings, the best trial's confusion matrix)."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    classes = [f"class <{i}> & co" for i in range(n_classes)]  # names that need HTML escaping
    grouping_files = {}
    names = list(GROUPINGS) if groupings else ["none"]
    (run_dir / "groupings").mkdir(exist_ok=True)
    for g in names[1:]:
        k = GROUPINGS[g]
        # One group of the first n - k + 1 classes leaves exactly k labels.
        body = {"name": g, "groups": {"G1": classes[: n_classes - k + 1]}}
        import yaml

        path = run_dir / "groupings" / f"{g}.yaml"
        path.write_text(yaml.safe_dump(body, sort_keys=False))
        grouping_files[g] = str(path)
    rows = []
    for t in range(n_trials):
        arch = list(ARCHS)[t % len(ARCHS)]
        k = int(rng.integers(0, ARCHS[arch] + 1))
        lr = float(10 ** rng.uniform(-5, -1))
        opt = ["adam", "sgd_momentum", "rmsprop"][int(rng.integers(0, 3))]
        grouping = names[int(rng.integers(0, len(names)))]
        n = n_classes if grouping == "none" else GROUPINGS[grouping]
        top = 0.55 + 0.3 * min(k, 6) / 6 - 0.08 * abs(np.log10(lr) + 3) + 0.05 * (n_classes - n) / n_classes
        status = "failed" if rng.random() < failed_share else ("completed" if rng.random() < 0.3 else "stopped_early")
        # ASHA stops the weaker trials at the earlier rungs.
        epochs = max_epochs if status == "completed" else 1 + int((max_epochs - 2) * np.clip((top - 0.3) / 0.6, 0, 1))
        curve = [float(np.clip(top * (1 - np.exp(-(e + 1) / 3)) + rng.normal(0, 0.01), 0, 1)) for e in range(epochs)]
        start = 1.8e9 + 60.0 * t  # trials start a minute apart; an epoch takes 30 s
        history = [
            {"epoch": e + 1, "val_accuracy": a, "val_accuracy_common": a - 0.02, "loss": 1 - a, "time": start + 30.0 * (e + 1)} for e, a in enumerate(curve)
        ]
        best = int(np.argmax(curve))
        failed = status == "failed"
        rows.append({
            "trial_id": f"t{t:05d}", "stage": "search", "status": status,
            "failure_reason": "nan_loss" if failed else None, "architecture": arch, "weights": "imagenet",
            "lr": lr, "optimizer": opt, "dropout": float(rng.uniform(0, 0.5)), "dense_units": 512,
            "unfrozen_blocks": k, "warmup_epochs": 1, "backbone_lr_mult": 0.1, "grouping": grouping, "n_classes": n,
            "batch_size": 32, "input_size": 299, "augment": "study", "epochs_run": epochs, "best_epoch": None if failed else best + 1,
            "objective": None if failed else curve[best] - 0.02, "val_accuracy": None if failed else curve[best],
            "val_accuracy_common": None if failed else curve[best] - 0.02, "val_loss": None if failed else 1 - curve[best],
            "balanced_accuracy": None, "macro_f1": None, "test_accuracy": None, "trainable_params": 1000, "total_params": 2000,
            "setup_seconds": 10.0, "train_seconds": 30.0 * epochs, "images_per_second": 500.0, "gpus": 1.0,
            "checkpoint_path": None, "trial_dir": f"search/t{t:05d}", "history": json.dumps(history),
        })  # fmt: skip
    scored = [r for r in rows if r["objective"] is not None]
    if scored:
        best_row = max(scored, key=lambda r: r["objective"])
        ckpt = run_dir / "train" / best_row["trial_id"] / "checkpoint_000001"
        ckpt.mkdir(parents=True)
        n = best_row["n_classes"]
        confusion = np.diag(rng.integers(20, 40, size=n)).astype(np.int64)
        confusion[0, n - 1] = confusion[n - 1, 0] = 15  # a planted confusable pair
        np.save(ckpt / "confusion.npy", confusion)
        best_row["checkpoint_path"] = str(ckpt.relative_to(run_dir))
    space = load_space("finetune")
    meta = {
        "name": run_dir.name, "space": space.model_dump(mode="json"), "space_source": "finetune",
        "dataset": {"root": "/data/shop", "identity": "x" * 16, "classes": classes}, "metric": "val_accuracy_common",
        "mode": "max", "grouping_files": grouping_files, "common_grouping_file": None, "num_samples": n_trials,
        "max_epochs": max_epochs, "started": "2026-11-23T00:00:00Z", "ended": "2026-11-23T09:00:00Z",
        "sweep": sweep_info(space),
    }  # fmt: skip
    write_leaderboard(run_dir / FILENAME, typed(rows), meta)
    return run_dir
