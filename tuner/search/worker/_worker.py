"""One trial's training, wherever it runs: a warm trial actor, a Ray Train worker, a plain process.

Everything that imports TensorFlow for a trial happens here, in the training process only.
Per epoch: train, score the validation split once (accuracy, common-space accuracy, loss,
balanced accuracy, macro-F1 and the confusion matrix, all from one prediction pass), write a
checkpoint (weights, state, confusion matrix) and report. A NaN loss or an out-of-memory
error ends the trial with a recorded reason instead of crashing the search.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tuner._run import CONFUSION_FILE, STATE_FILE, WEIGHTS_FILE  # shared with the readers of a run
from tuner.groupings import common_accuracy, label_spaces
from tuner.search.plan._contracts import EpochReport, TrialConfig

__all__ = ["evaluate_checkpoint", "ray_train_loop", "run_training", "warm"]

_log = logging.getLogger("tuner.search")

ReportFn = Callable[[dict[str, Any], "str | None"], None]


@contextlib.contextmanager
def warm() -> Iterator[None]:
    """One trial in a process that trains trial after trial (Tune's reused trial actor).

    After the trial, however it ended (normally, or stopped by Tune: ``SystemExit`` raised in
    its report), Keras' state is cleared and its model, optimizer and traced functions are
    freed, once the trial's frames are gone: a stop is re-raised as a fresh ``SystemExit``,
    since the caught one's traceback still holds them. What survives is long-lived
    (TensorFlow's modules and state, the memory-mapped image cache: what makes the next trial
    warm) and is frozen out of later garbage collections, so each trial's clean-up scans that
    trial's objects only. A trial that raised anything else leaves its process to be discarded
    (Tune never reuses the actor of an errored trial).
    """
    stop: SystemExit | None = None
    try:
        yield
    except SystemExit as exc:
        stop = SystemExit(exc.code)
    _release()
    if stop is not None:
        raise stop


def _release() -> None:
    import gc

    import keras

    keras.backend.clear_session(free_memory=True)
    gc.freeze()


def _scores(probs: np.ndarray, labels: np.ndarray, to_common: np.ndarray, n: int) -> tuple[dict[str, float], np.ndarray]:
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

    pred = probs.argmax(axis=1)
    p_true = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    confusion = confusion_matrix(labels, pred, labels=np.arange(n))
    metrics = {
        "val_loss": float(-np.log(p_true).mean()),
        "val_accuracy": float((pred == labels).mean()),
        "val_accuracy_common": common_accuracy(confusion, to_common),
        "balanced_accuracy": float(balanced_accuracy_score(labels, pred)),
        "macro_f1": float(f1_score(labels, pred, average="macro", labels=np.arange(n), zero_division=0)),
    }
    return metrics, confusion


def _predict(model, ds) -> np.ndarray:
    out = model.predict(ds.map(lambda x, y: x), verbose=0)
    return np.asarray(out[0] if isinstance(out, (list, tuple)) else out, dtype=np.float64)


def _memory_mb() -> float:
    """This process's resident memory in MiB (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _node_id() -> str:
    """The Ray node this process runs on (short id), or the host name outside Ray."""
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()[:12]
    except Exception:  # noqa: BLE001 - only a label for the leaderboard
        pass
    import socket

    return socket.gethostname()


def _better(value: float, best: float | None, mode: str) -> bool:
    if value is None or math.isnan(value):
        return False
    return best is None or (value > best if mode == "max" else value < best)


def run_training(cfg: TrialConfig, report: ReportFn, checkpoint_dir: str | None = None) -> dict[str, Any]:
    """Train one trial and report every epoch.

    Args:
        cfg: The trial's config (``tuner.search.trial._trial.trial_config``).
        report: ``report(metrics, checkpoint_dir)``; the directory is only valid during the call.
        checkpoint_dir: A checkpoint to resume from (weights, state), or ``None``.

    Returns:
        The last metrics reported.
    """
    t0 = time.perf_counter()
    if checkpoint_dir:
        with open(os.path.join(checkpoint_dir, STATE_FILE)) as fh:
            ended = json.load(fh).get("metrics") or {}
        if ended:
            # The epoch this checkpoint holds, said again (no new checkpoint): the driver may
            # have died before its report arrived. Rows take a replay only where the epoch is
            # missing. A run that had ended ends here, as it did, with nothing retrained.
            replay = {**ended, "replayed": True}
            report(replay, None)
            if ended.get("finished"):
                return replay
    import warnings

    # Keras' fit() passes shuffle=True to a tf.data input it cannot shuffle; ours already is.
    warnings.filterwarnings("ignore", message=".*shuffle=True.*was passed.*")
    from tuner._quiet import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    import keras

    from tuner.data import (
        AUGMENTATIONS,
        index_dataset,
        make_dataset,
        open_cache,
        split_arrays,
    )
    from tuner.zoo import build_model_for_trial, compile_model, scheduled_lr, set_unfrozen_blocks, setup_devices

    devices = setup_devices(cfg.mixed_precision, cpu_threads=int(cfg.cpus) if cfg.cpus else None)
    node = _node_id()
    seed = cfg.seed
    keras.utils.set_random_seed(seed)
    index = index_dataset(cfg.data_dir, cfg.class_name_pattern, cfg.split_seed)
    if index.identity != cfg.identity:
        from tuner.errors import DataError

        raise DataError(f"dataset {cfg.data_dir} changed since the search started (identity {index.identity} != {cfg.identity})")
    cache = open_cache(index, cfg.working_size, cfg.cache_dir)
    remap, to_common = label_spaces(list(index.class_names), cfg.grouping_file, cfg.common_grouping_file)
    n = remap.num_classes
    batch = int(cfg.param("batch_size")) * devices.replicas
    train_ds = make_dataset(index, cache, "train", batch, remap=remap, augmentation=AUGMENTATIONS[str(cfg.param("augment"))], shuffle=True, seed=seed)
    val_ds = make_dataset(index, cache, "validation", max(batch, 128), remap=remap)
    _, val_labels = split_arrays(index, cache, "validation", remap)
    train_images = len(split_arrays(index, cache, "train", remap)[0])
    kind = cfg.kind
    try:
        with devices.strategy.scope():
            built = build_model_for_trial(cfg.params, n, kind=kind, source_size=cache.size, weights=cfg.weights)
    except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
        return _report_oom(report, exc, {"epoch": 0})
    if built.num_outputs > 1:
        aux = built.num_outputs - 1
        train_ds = train_ds.map(lambda x, y: (x, (y,) * (aux + 1)))
    max_epochs = cfg.max_epochs
    warmup = min(int(cfg.param("warmup_epochs")), max_epochs) if kind == "finetune" else 0
    target_k = int(cfg.param("unfrozen_blocks")) if kind == "finetune" else 0
    mode = cfg.mode
    metric = cfg.metric
    patience = cfg.patience
    schedule = str(cfg.param("lr_schedule"))
    lr = float(cfg.param("lr"))
    state: dict[str, Any] = {"epoch": 0, "best": None, "best_epoch": None, "since_best": 0, "train_seconds": 0.0}
    # Each new best epoch scores the test split too (one prediction pass, ~3% of an epoch),
    # so the top rows' test accuracy needs no model rebuilt from a checkpoint after the search,
    # whether the trial ends or ASHA stops it. Nothing selects on it. ``"every"`` scores every
    # epoch (bench/tabulate.py's learning-curve tables).
    score_test = _split_scorer(index, cache, "test", remap, to_common) if cfg.score_test != "none" else None
    if checkpoint_dir:
        with open(os.path.join(checkpoint_dir, STATE_FILE)) as fh:
            state = json.load(fh)
    setup_seconds = time.perf_counter() - t0
    last: dict[str, Any] = {}

    def compile_phase(phase_epoch: int) -> None:
        k = target_k if phase_epoch >= warmup else 0
        with devices.strategy.scope():
            if kind == "finetune":
                set_unfrozen_blocks(built, k)
            compile_model(built, str(cfg.param("optimizer")), lr, float(cfg.param("backbone_lr_mult")))

    trainable, total = 0, 0

    class _Epoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()
            self._wall = time.time()
            if schedule != "constant":  # set before the epoch's first step; resumes mid-schedule too
                self.model.optimizer.learning_rate.assign(scheduled_lr(schedule, lr, epoch, max_epochs))

        def on_epoch_end(self, epoch, logs=None):
            nonlocal last
            logs = logs or {}
            train_time = time.perf_counter() - self._start
            probs = _predict(built.model, val_ds)
            scores, confusion = _scores(probs, val_labels, to_common, n)
            loss = float(logs.get("loss", float("nan")))
            state["epoch"] = epoch + 1
            state["train_seconds"] += time.perf_counter() - self._start
            value = scores[metric]
            nan = not math.isfinite(loss) or not np.isfinite(probs).all()
            if nan:
                pass  # scores of NaN outputs are not scores: neither a best epoch nor an objective
            elif _better(value, state["best"], mode):
                state["best"], state["best_epoch"], state["since_best"] = value, epoch + 1, 0
            else:
                state["since_best"] += 1
            fields: dict[str, Any] = {
                "epoch": epoch + 1,
                "loss": loss,
                "accuracy": float(logs.get(built.history_key("accuracy"), float("nan"))),
                "learning_rate": float(self.model.optimizer.learning_rate.numpy()),  # of the head, this epoch
                **scores,
                # No score yet (a NaN first epoch): no value at all. ASHA then skips the result and
                # Optuna records the trial as pruned or failed, not as a made-up worst score.
                **({"objective": state["best"]} if state["best"] is not None else {}),
                "best_epoch": state["best_epoch"],
                "n_classes": n,
                "images_per_second": train_images / train_time if train_time > 0 else float("nan"),
                "setup_seconds": setup_seconds,
                "train_seconds": state["train_seconds"],
                "trainable_params": trainable,
                "total_params": total,
                "weights_used": built.weights,
                "gpus": devices.gpus,
                "node": node,
                "pid": os.getpid(),  # the training process (a warm one trains many trials)
                "time": time.time(),  # wall clock at the epoch's end: the report's compute-to-best
                "epoch_start": self._wall,  # and at its start (bench/trial_overhead.py)
                "memory_mb": _memory_mb(),
                "finished": False,
            }
            best_now = state["best"] is not None and value == state["best"]
            if score_test is not None and not nan and (best_now or cfg.score_test == "every"):
                fields.update(score_test(self.model))  # ties too: rows keep the later epoch
            if nan:
                fields.update(finished=True, failure_reason="nan_loss")
                self.model.stop_training = True
            elif epoch + 1 >= max_epochs:
                fields.update(finished=True)
            elif patience and state["since_best"] >= int(patience):
                fields.update(finished=True)
                self.model.stop_training = True
            metrics = EpochReport(**fields).result()  # checked here, where it is made
            with tempfile.TemporaryDirectory(prefix="tuner-ckpt-") as d:
                if not nan:
                    built.model.save_weights(os.path.join(d, WEIGHTS_FILE))
                np.save(os.path.join(d, CONFUSION_FILE), confusion)
                with open(os.path.join(d, STATE_FILE), "w") as fh:
                    json.dump({**state, "metrics": metrics}, fh)
                report(metrics, d if not nan else None)
            last = metrics

    if checkpoint_dir:
        built.model.load_weights(os.path.join(checkpoint_dir, WEIGHTS_FILE))
    start_epoch = int(state["epoch"])
    phases = [(start_epoch, warmup), (max(start_epoch, warmup), max_epochs)] if warmup else [(start_epoch, max_epochs)]
    try:
        for begin, end in phases:
            if begin >= end or last.get("finished"):
                continue
            compile_phase(begin)
            trainable, total = built.param_counts()
            built.model.fit(train_ds, epochs=end, initial_epoch=begin, callbacks=[_Epoch()], verbose=0)
    except (tf.errors.ResourceExhaustedError, MemoryError) as exc:
        return _report_oom(report, exc, {**last, "epoch": int(state["epoch"])})
    return last


def _report_oom(report: ReportFn, exc: BaseException, last: dict[str, Any]) -> dict[str, Any]:
    reason = " ".join(str(exc).split())[:160]
    metrics = EpochReport.from_result({**last, "finished": True, "failure_reason": f"out_of_memory: {reason}"}).result()
    report(metrics, None)
    return metrics


def ray_train_loop(config: dict[str, Any]) -> None:
    """``train_loop_per_worker`` of the Ray Train path (a ``DataParallelTrainer`` with one
    worker holding the trial's GPUs): resume, train, report to Ray.

    ``config`` is a :class:`TrialConfig` as JSON, validated here (the worker's boundary).
    """
    import ray.train

    try:  # Ray Train logs every report (with all metrics) at INFO; the progress line says enough
        from ray.train.v2._internal.execution import context as _train_context

        logging.getLogger(_train_context.__file__).setLevel(logging.WARNING)
    except ImportError:
        pass
    from ray.util import get_current_placement_group

    checkpoint = ray.train.get_checkpoint()
    pg = get_current_placement_group()
    # The driver releases this placement group when Tune ends the trial
    # (tuner.search.driver._placement.PlacementGroupReleaser).
    pg_id = pg.id.hex() if pg is not None else ""

    def report(metrics: dict[str, Any], directory: str | None) -> None:
        ckpt = ray.train.Checkpoint.from_directory(directory) if directory else None
        extra: dict[str, Any] = {"placement_group": pg_id}
        if metrics.get("replayed") and checkpoint is not None:
            extra["checkpoint_path"] = checkpoint.path  # the stored checkpoint the replay comes from
        ray.train.report({**metrics, **extra}, checkpoint=ckpt)

    from tuner.errors import TunerError

    cfg = TrialConfig.model_validate(config)
    try:
        if checkpoint is None:
            run_training(cfg, report)
        else:
            with checkpoint.as_directory() as d:
                run_training(cfg, report, d)
    except TunerError as exc:
        # A user error (the dataset changed on this node, say) fails every trial alike: report
        # it instead of raising, so Ray Train does not retry it, and the search stops on it.
        report(EpochReport(epoch=0, finished=True, failure_reason=str(exc), fatal=True).result(), None)


def evaluate_checkpoint(cfg: TrialConfig, checkpoint_dir: str, split: str = "test") -> dict[str, float]:
    """Score a trial's checkpoint on a split (the top trials' test accuracy)."""
    from tuner._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras

    from tuner.data import index_dataset, open_cache
    from tuner.zoo import build_model_for_trial

    keras.mixed_precision.set_global_policy("float32")
    index = index_dataset(cfg.data_dir, cfg.class_name_pattern, cfg.split_seed)
    cache = open_cache(index, cfg.working_size, cfg.cache_dir)
    remap, to_common = label_spaces(list(index.class_names), cfg.grouping_file, cfg.common_grouping_file)
    built = build_model_for_trial(cfg.params, remap.num_classes, kind=cfg.kind, source_size=cache.size)
    built.model.load_weights(os.path.join(checkpoint_dir, WEIGHTS_FILE))
    return _split_scorer(index, cache, split, remap, to_common)(built.model)


def _split_scorer(index, cache, split: str, remap, to_common: np.ndarray) -> Callable[[Any], dict[str, float]]:
    """``score(model)``: ``{split}_accuracy`` and ``{split}_accuracy_common`` on one split
    (its dataset and labels are made once, here)."""
    from tuner.data import make_dataset, split_arrays

    ds = make_dataset(index, cache, split, 128, remap=remap)
    _, labels = split_arrays(index, cache, split, remap)

    def score(model: Any) -> dict[str, float]:
        scores, _ = _scores(_predict(model, ds), labels, to_common, remap.num_classes)
        return {f"{split}_accuracy": scores["val_accuracy"], f"{split}_accuracy_common": scores["val_accuracy_common"]}

    return score
