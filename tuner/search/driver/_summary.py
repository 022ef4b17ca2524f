"""After the search: test-split scores of the top rows, and the summary printed at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from tuner._io import write_atomic
from tuner._run import TEST_SCORES_FILE, read_params
from tuner.leaderboard import FILENAME, TrialRow, TrialStatus, config_scores
from tuner.search.driver._board import test_scores, tune_storage
from tuner.search.driver._console import say
from tuner.search.driver._rows import collect_rows
from tuner.search.plan._contracts import Plan, TrialConfig

__all__ = ["evaluate_top", "print_summary"]


def evaluate_top(run_dir: Path, plan: Plan) -> None:
    """Test-split scores of the best few search trials: the ones their workers computed, else
    their best checkpoints rebuilt in Ray tasks (TensorFlow there)."""
    if not plan.test_images or not plan.test_top:
        return
    scores = test_scores(run_dir)
    rows = [
        r
        for r in collect_rows(run_dir, plan.metric, plan.mode, storage_root=tune_storage(run_dir, plan)[1])
        if r.stage == "search" and r.status != TrialStatus.FAILED and r.checkpoint_path and r.trial_dir
    ]
    todo = []
    for row in rows[: plan.test_top]:
        if row.trial_id in scores:
            continue
        ended = _worker_test_scores(run_dir, row)
        if ended:
            scores[row.trial_id] = ended
        else:
            todo.append(row)
    if todo:
        scores.update(_evaluate_in_ray(run_dir, plan, todo))
    write_atomic(run_dir / TEST_SCORES_FILE, json.dumps(scores, indent=1))


def _evaluate_in_ray(run_dir: Path, plan: Plan, todo: list[TrialRow]) -> dict[str, dict[str, float]]:
    """Rebuild each row's best checkpoint and score it on the test split, in Ray tasks."""
    import ray

    from tuner.search.trial._trial import trial_config

    @ray.remote(num_cpus=plan.cpus_per_trial or 1, num_gpus=plan.gpus_per_trial or 0)
    def evaluate(cfg: TrialConfig, checkpoint: str, remote: str | None) -> dict[str, float]:
        import tempfile

        from tuner.search.worker._worker import evaluate_checkpoint

        if remote:  # this task may run on any node: fetch the checkpoint here
            from tuner._storage import download_dir

            with tempfile.TemporaryDirectory() as tmp:
                return evaluate_checkpoint(cfg, str(download_dir(remote, checkpoint, Path(tmp))), "test")
        return evaluate_checkpoint(cfg, checkpoint, "test")

    refs = {}
    for row in todo:
        assert row.trial_dir and row.checkpoint_path  # evaluate_top picks rows with both
        params = read_params(run_dir / row.trial_dir)
        where = row.checkpoint_path if plan.remote else str(run_dir / row.checkpoint_path)
        refs[row.trial_id] = evaluate.remote(trial_config(params, plan), where, plan.remote)
    scores = {}
    for trial_id, ref in refs.items():
        try:
            scores[trial_id] = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a failed evaluation leaves that cell empty
            say(f"warning: test evaluation of trial {trial_id} failed: {exc}", err=True)
    return scores


def _worker_test_scores(run_dir: Path, row: TrialRow) -> dict[str, float] | None:
    """The test scores the trial's worker computed at the row's best epoch, if it did."""
    from tuner._run import journal_path
    from tuner.search.driver._rows import read_trial

    if not row.trial_dir or not row.best_epoch:
        return None
    data = read_trial(run_dir / row.trial_dir, journal_path(run_dir, row.stage, row.trial_id))
    at_best = [r for r in (data or {}).get("results", []) if r.get("epoch") == row.best_epoch and r.get("test_accuracy") is not None]
    if not at_best:
        return None
    return {k: float(at_best[-1][k]) for k in ("test_accuracy", "test_accuracy_common") if at_best[-1].get(k) is not None}


def print_summary(run_dir: Path, rows: list[TrialRow], plan: Plan, out: TextIO) -> None:
    search = [r for r in rows if r.stage == "search"]
    statuses = {s: sum(1 for r in search if r.status == s) for s in (TrialStatus.COMPLETED, TrialStatus.STOPPED_EARLY, TrialStatus.FAILED)}
    done, early, n_failed = statuses[TrialStatus.COMPLETED], statuses[TrialStatus.STOPPED_EARLY], statuses[TrialStatus.FAILED]
    print(
        f"\n{len(search)} trials: {done} completed, "
        + (f"{early} stopped early, " if early else "")
        + f"{n_failed} failed"
        + (f" (+{len(rows) - len(search)} probe trials)" if len(rows) > len(search) else ""),
        file=out,
    )
    epochs = sum(int(r.epochs_run or 0) for r in rows)
    probe = sum(int(r.epochs_run or 0) for r in rows if r.stage == "probe")
    seconds = sum(((r.setup_seconds or 0.0) + (r.train_seconds or 0.0)) * max(r.gpus or 0.0, 1.0) for r in rows)
    gpu = any((r.gpus or 0.0) > 0 for r in rows)
    print(
        f"compute: {epochs} trial-epochs"
        + (f" ({probe} of them in the probe stage)" if probe else "")
        + f", {seconds / 3600:.3g} {'GPU-hours' if gpu else 'CPU trial-hours'}",
        file=out,
    )
    top = [r for r in search if r.objective is not None and r.status != TrialStatus.FAILED][:5]
    if top:
        metric = plan.metric
        # Rows come ranked by configuration (rank_rows): a configuration trained more than
        # once (the searcher confirms its incumbent) ranks by its mean, shown beside each trial.
        scores = config_scores(search, mode=plan.mode)
        repeated = any(scores[r.trial_id][1] > 1 for r in top)
        mean_head = f" {'config mean':>13}" if repeated else ""
        print(f"\ntop {len(top)} by {metric}" + (" (a configuration trained again ranks by its mean)" if repeated else "") + ":", file=out)
        print(
            f"  {'trial':<12} {'architecture':<16} {metric:>20}{mean_head} {'val_acc':>8} {'test_acc':>8} {'k':>3} {'lr':>9} {'optimizer':<13} {'grouping':<10} {'epochs':>6}  status",  # noqa: E501
            file=out,
        )
        for r in top:
            test = f"{r.test_accuracy:.4f}" if r.test_accuracy is not None else "-"
            score, trainings = scores[r.trial_id]
            mean = (f" {f'{score:.4f} x{trainings}':>13}" if trainings > 1 else f" {'-':>13}") if repeated else ""
            print(
                f"  {r.trial_id:<12} {r.architecture:<16} {r.objective:>20.4f}{mean} {r.val_accuracy or 0:>8.4f} {test:>8} "
                f"{r.param('unfrozen_blocks') if r.param('unfrozen_blocks') is not None else '-':>3} {r.param('lr') or 0:>9.2e} {r.param('optimizer')!s:<13} "
                f"{r.param('grouping')!s:<10} {r.epochs_run or 0:>6}  {r.status}",
                file=out,
            )
    n = len(plan.class_names)
    fine = [r for r in rows if r.status != TrialStatus.FAILED and r.n_classes == n and r.val_accuracy is not None]
    own = max(fine, key=lambda r: r.val_accuracy or 0.0) if fine else None
    # Whenever the best model on the dataset's own labels is not the top row (a grouped trial
    # tops the objective, or a probe trial trained longer): the figure a user compares with.
    if top and own is not None and (top[0].n_classes != n or (own.val_accuracy or 0.0) > (top[0].val_accuracy or 0.0)):
        print(
            f"  best on all {n} classes (no grouping): trial {own.trial_id} ({own.stage}), val_accuracy {own.val_accuracy:.4f} at epoch {own.best_epoch}",
            file=out,
        )
    failed = [r for r in search if r.status == TrialStatus.FAILED]
    for r in failed[:5]:
        print(f"  failed {r.trial_id}: {r.failure_reason}", file=out)
    print(f"\nleaderboard: {run_dir / FILENAME}", file=out)
    print(f"report:      python -m tuner.report {run_dir}", file=out)
    print(f"tensorboard: tensorboard --logdir {run_dir}", file=out)
