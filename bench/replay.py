"""Replay search strategies against a learning-curve table (bench/tabulate.py), many times.

A trial's training is a table lookup: the configuration the strategy asks for, one of the
table's training seeds drawn per trial, its recorded per-epoch validation accuracy and
seconds. Everything else is the real search code:

- tuner's strategies are the Tune searcher and scheduler objects a search builds
  (``tuner.search.strategy._strategy.make_searcher`` / ``make_scheduler`` over the space's define-by-run
  function from ``stage_space``): Optuna's sampler, tuner's tell/prune logic, Ray's ASHA;
- KerasTuner's Hyperband and Bayesian optimisation are its own oracles
  (``create_trial`` / ``update_trial`` / ``end_trial``, as its ``Tuner.search`` drives them);
- the exhaustive grid is ``grid_points`` in order, every point to its last epoch.

A discrete-event loop plays the Tune controller's part with 1, 2 or 8 concurrent workers:
a worker's next epoch ends at its start plus the table's seconds, results reach the searcher
and the scheduler in time order (the scheduler first; a stopped trial's last result goes to
the searcher's ``on_trial_complete`` only, as Tune does), and a free worker asks for a trial.

A configuration tuner proposes again trains with the next seed (the product's ``seed +
repeat``): the k-th trial of a point gets the table's seed ``(first + k) mod seeds``, its first
seed drawn at random; KerasTuner's trials draw a seed each, a continued trial keeps its own.

Budgets are fractions of the grid's trial-epochs (points x max_epochs). At each budget a
strategy picks a configuration as its product would: tuner's strategies the best mean, over a
configuration's ended trials, of each trial's best validation accuracy (a configuration with no
ended trial: its running trials' best so far; ``tuner.leaderboard.rank_rows``); KerasTuner's
and the grid the best validation accuracy of any epoch so far (KerasTuner's oracle). Its regret is the grid's best test
accuracy minus the picked configuration's test accuracy, both the mean over the table's seeds
of the test accuracy at the best validation epoch of a full training: the grid's best is the
point a full grid would pick by validation.

    python bench/replay.py --table bench/tables/digits_transfer.parquet --quick
    python bench/replay.py --table bench/tables/digits_scratch.parquet --table bench/tables/digits_transfer.parquet
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This folder goes last: its tabulate.py must not shadow the ``tabulate`` package Ray imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BUDGETS = (0.05, 0.10, 0.25, 0.50)
DEFAULT = "tuner"


@dataclass
class Table:
    """A learning-curve table in arrays: ``val[p, s, e]``, ``test[p, s, e]``, ``sec[p, s, e]``."""

    name: str
    meta: dict[str, Any]
    points: list[dict[str, Any]]
    key_names: list[str]
    index: dict[tuple[Any, ...], int]
    val: Any
    test: Any
    sec: Any
    setup: Any
    quality: Any  # mean test accuracy at the best validation epoch of a full training, per point
    reference: float  # the grid's pick's quality

    @property
    def epochs(self) -> int:
        return int(self.val.shape[2])

    def point_of(self, config: dict[str, Any]) -> int:
        return self.index[tuple(_norm(config[k]) for k in self.key_names)]


def _norm(v: Any) -> Any:
    return round(float(v), 12) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def load_table(path: Path) -> Table:
    """Read a table written by bench/tabulate.py; a curve cut short (NaN loss) stays at its last value."""
    import numpy as np
    import pyarrow.parquet as pq

    raw = pq.read_table(path)
    meta = json.loads(raw.schema.metadata[b"tuner_table"])  # bench/tabulate.py's META_KEY
    frame = raw.to_pandas()
    from tuner._params import param_names

    key_names = ["architecture", *[n for n in param_names() if n in frame.columns]]
    n_points, n_seeds, n_epochs = int(frame["point"].max()) + 1, int(frame["seed"].max()) + 1, int(meta["max_epochs"])
    val = np.zeros((n_points, n_seeds, n_epochs))
    test = np.zeros_like(val)
    sec = np.zeros_like(val)
    setup = np.zeros((n_points, n_seeds))
    points: list[dict[str, Any]] = [{} for _ in range(n_points)]
    for (p, s), g in frame.groupby(["point", "seed"]):
        g = g.sort_values("epoch")
        e = len(g)
        v = g["val_accuracy"].to_numpy(dtype=float)
        t = g["test_accuracy"].to_numpy(dtype=float)
        v, t = np.nan_to_num(v, nan=0.0), np.nan_to_num(t, nan=0.0)
        val[p, s, :e], test[p, s, :e], sec[p, s, :e] = v, t, g["seconds"].to_numpy(dtype=float)
        if e < n_epochs:  # a training that stopped (NaN loss): flat from there, 1 s an epoch
            val[p, s, e:], test[p, s, e:], sec[p, s, e:] = 0.0, 0.0, 1.0
        setup[p, s] = float(g["setup_seconds"].iloc[0])
        points[p] = {k: g[k].iloc[0] for k in key_names}
    index = {tuple(_norm(pt[k]) for k in key_names): i for i, pt in enumerate(points)}
    quality = np.array([[_test_at_best(val[p, s], test[p, s]) for s in range(n_seeds)] for p in range(n_points)]).mean(axis=1)
    best_val = val.max(axis=2).mean(axis=1)
    reference = float(quality[int(np.argmax(best_val))])
    return Table(path.stem, meta, points, key_names, index, val, test, sec, setup, quality, reference)


def _test_at_best(val: Any, test: Any) -> float:
    """Test accuracy at the best validation epoch; ties keep the later epoch (as the worker)."""
    import numpy as np

    best = len(val) - 1 - int(np.argmax(val[::-1]))
    return float(test[best])


# ---------------------------------------------------------------------------------------------
# One replayed search: a stream of (time, point, validation accuracy) epoch events.


@dataclass
class Run:
    """What one replayed search did: its epochs in time order, and when."""

    events: list[tuple[float, int, float]]  # (finish time, point, validation accuracy of that epoch)
    trials: list[int] = field(default_factory=list)  # each trial's point, in the order proposed
    reached: list[int] = field(default_factory=list)  # each trial's epochs trained (same order)
    #: tuner's: each event's (trial number, whether the trial ended with it); the pick is by mean.
    owners: list[tuple[int, bool]] | None = None


def _tune_run(table: Table, policy: Any, workers: int, rep: int, budget_epochs: int) -> Run:
    """tuner's searcher and scheduler, as a Tune search drives them."""
    import numpy as np

    from tuner.leaderboard import REPEAT
    from tuner.search.plan._plan import define_by_run
    from tuner.search.space._space import SearchSpace
    from tuner.search.strategy._strategy import make_scheduler, make_searcher

    np.random.seed(rep)  # ASHA draws its bracket from numpy's global generator
    rng = np.random.default_rng(10_000 + rep)
    meta = table.meta
    space = SearchSpace.model_validate(meta["space"])
    # The search's own define-by-run function; without weights, trials train every block.
    random_weights = list(space.architectures) if meta["weights"] in ("none", "") and space.kind == "finetune" else []
    space_fn = define_by_run(space, "search", random_weights=random_weights)
    searcher = make_searcher(space_fn, policy, seed=rep, num_samples=len(table.points), max_epochs=table.epochs, mode="max")
    scheduler = make_scheduler(policy, max_epochs=table.epochs, grace_period=space.budget.grace_period, reduction_factor=space.budget.reduction_factor)
    scheduler.set_search_properties("objective", "max")

    class _Trial:
        def __init__(self, trial_id: str):
            self.trial_id = trial_id

    events: list[tuple[float, int, float]] = []
    heap: list[tuple[float, int, str, int]] = []
    trials: dict[str, tuple[Any, int, int, float]] = {}  # id -> (trial, point, seed, best)
    clock, counter, used = 0.0, 0, 0
    run = Run(events, owners=[])
    first_seed: dict[int, int] = {}

    def start(now: float) -> bool:
        nonlocal counter
        trial_id = f"t{counter:05d}"
        config = searcher.suggest(trial_id)
        if config is None:
            return False
        counter += 1
        point = table.point_of(config)
        if point not in first_seed:
            first_seed[point] = int(rng.integers(table.val.shape[1]))
        seed = (first_seed[point] + int(config.get(REPEAT, 0))) % table.val.shape[1]
        trial = _Trial(trial_id)
        scheduler.on_trial_add(None, trial)
        trials[trial_id] = (trial, point, seed, -1.0)
        run.trials.append(point)
        run.reached.append(0)
        heapq.heappush(heap, (now + table.setup[point, seed] + table.sec[point, seed, 0], counter, trial_id, 1))
        return True

    for _ in range(workers):
        start(0.0)
    while heap and used < budget_epochs:
        clock, _, trial_id, epoch = heapq.heappop(heap)
        trial, point, seed, best = trials[trial_id]
        value = float(table.val[point, seed, epoch - 1])
        best = max(best, value)
        trials[trial_id] = (trial, point, seed, best)
        used += 1
        events.append((clock, point, value))
        run.reached[int(trial_id[1:])] = epoch
        last = epoch >= table.epochs
        result = {"epoch": epoch, "training_iteration": epoch, "objective": best, "finished": last}
        decision = scheduler.on_trial_result(None, trial, result)
        stop = decision == "STOP"
        run.owners.append((int(trial_id[1:]), stop or last))  # type: ignore[union-attr]
        if not stop:
            searcher.on_trial_result(trial_id, result)
        if stop or last:
            scheduler.on_trial_complete(None, trial, result)
            searcher.on_trial_complete(trial_id, result=result)
            start(clock)
        else:
            heapq.heappush(heap, (clock + table.sec[point, seed, epoch], counter, trial_id, epoch + 1))
    return run


def _grid_run(table: Table, workers: int, rep: int, budget_epochs: int) -> Run:
    """Every point of the grid (``grid_points`` order) to its last epoch."""
    import numpy as np

    from tuner.search.space._grid import grid_points
    from tuner.search.space._space import SearchSpace

    rng = np.random.default_rng(10_000 + rep)
    order = [table.point_of(p) for p in grid_points(SearchSpace.model_validate(table.meta["space"]))]
    free = [0.0] * workers
    events = []
    for point in order:
        seed = int(rng.integers(table.val.shape[1]))
        w = int(np.argmin(free))
        t = free[w] + table.setup[point, seed]
        for e in range(table.epochs):
            t += table.sec[point, seed, e]
            events.append((t, point, float(table.val[point, seed, e])))
        free[w] = t
        if len(events) >= budget_epochs * 2:
            break
    events.sort()
    return Run(events[:budget_epochs])


def _keras_tuner_run(table: Table, method: str, workers: int, rep: int, budget_epochs: int) -> Run:
    """KerasTuner's own oracle over the table's discrete values, as its Tuner.search drives it
    (Bayesian: with the EarlyStopping(patience=3) a KerasTuner user adds; Hyperband: its
    continued trials resume the trial they continue, same seed)."""
    import keras_tuner as kt
    import numpy as np

    rng = np.random.default_rng(10_000 + rep)
    hps = kt.HyperParameters()
    varying = [k for k in table.key_names if len({_norm(p[k]) for p in table.points}) > 1]
    fixed = {k: table.points[0][k] for k in table.key_names if k not in varying}
    for k in varying:
        values = sorted({p[k] for p in table.points}, key=lambda v: (str(type(v)), v))
        hps.Choice(k, [v.item() if hasattr(v, "item") else v for v in values])
    objective = kt.Objective("val_accuracy", "max")
    if method == "hyperband":
        oracle: Any = kt.oracles.HyperbandOracle(
            objective=objective, max_epochs=table.epochs, factor=3, hyperband_iterations=1000, seed=rep, hyperparameters=hps
        )
    else:
        oracle = kt.oracles.BayesianOptimizationOracle(objective=objective, max_trials=100_000, seed=rep, hyperparameters=hps)
    oracle.verbose = 0  # its per-trial printout
    # Its files are for resuming a search, not part of choosing trials: a JSON write per epoch
    # here would make KerasTuner's replays ten times slower than the others.
    oracle._save_trial = lambda trial: None
    oracle.save = lambda: None
    folder = tempfile.mkdtemp(prefix="replay-kt-")
    oracle._set_project_dir(folder, "p")
    events: list[tuple[float, int, float]] = []
    heap: list[tuple[float, int, str, Any, int, int, int, int]] = []
    seeds: dict[str, int] = {}
    counter, used = 0, 0
    idle: list[str] = []

    def start(worker: str, now: float) -> None:
        nonlocal counter
        trial = oracle.create_trial(worker)
        if trial.status != "RUNNING":
            if trial.status == "IDLE":
                idle.append(worker)
            return
        values = trial.hyperparameters.values
        point = table.point_of({**fixed, **{k: values[k] for k in varying}})
        parent = values.get("tuner/trial_id")
        seed = seeds[parent] if parent in seeds else int(rng.integers(table.val.shape[1]))
        seeds[trial.trial_id] = seed
        first = int(values.get("tuner/initial_epoch", 0))
        last = int(values.get("tuner/epochs", table.epochs))
        counter += 1
        setup = table.setup[point, seed]
        heapq.heappush(heap, (now + setup + table.sec[point, seed, first], counter, worker, trial, point, seed, first + 1, last))

    try:
        for w in range(workers):
            start(f"w{w}", 0.0)
        best: dict[str, float] = {}
        stale: dict[str, int] = {}
        while heap and used < budget_epochs:
            clock, _, worker, trial, point, seed, epoch, last = heapq.heappop(heap)
            value = float(table.val[point, seed, epoch - 1])
            used += 1
            events.append((clock, point, value))
            oracle.update_trial(trial.trial_id, {"val_accuracy": value}, step=epoch)
            improved = value > best.get(trial.trial_id, -1.0)
            best[trial.trial_id] = max(best.get(trial.trial_id, -1.0), value)
            stale[trial.trial_id] = 0 if improved else stale.get(trial.trial_id, 0) + 1
            early = method == "bayesian" and stale[trial.trial_id] >= 3
            if epoch >= last or early:
                trial.status = "COMPLETED"
                oracle.end_trial(trial)
                for waiting in [worker, *idle]:
                    if waiting in idle:
                        idle.remove(waiting)
                    start(waiting, clock)
            else:
                counter += 1
                heapq.heappush(heap, (clock + table.sec[point, seed, epoch], counter, worker, trial, point, seed, epoch + 1, last))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return Run(events)


# ---------------------------------------------------------------------------------------------
# Strategies and scoring.


def strategies() -> dict[str, Callable[[Table, int, int, int], Run]]:
    """Name -> ``run(table, workers, rep, budget_epochs)``. The first is tuner's default; the
    first six are the issue's comparison; the rest are the candidates for the default, each
    named by what it adds to its base: ``+ ...`` to plain TPE + ASHA as Ray's OptunaSearch tells
    it, ``default ...`` to the first rounds' default (TPE + ASHA), ``hyperband ...`` to
    ``budget.early_stopping: hyperband``, ``tpe (no early stop) ...`` to TPE without it."""
    from tuner.search.strategy._strategy import DEFAULT_POLICY, EARLY_STOPPING, SearchPolicy

    plain = SearchPolicy(tell_pruned=False, prior=False)
    # The candidates of the earlier rounds are named by what they add to the default of their
    # day: TPE + ASHA (until 2026-12-06), then TPE + Hyperband's brackets + fresh (now
    # ``budget.early_stopping: hyperband``).
    asha_default = SearchPolicy(startup=1 / 4, startup_cap=30)
    hyperband = EARLY_STOPPING["hyperband"]
    confirmed = plain.with_(early_stopping=False, prior=True, confirm=2)  # the third round's default

    def tune(policy: Any) -> Callable[[Table, int, int, int], Run]:
        return lambda table, w, rep, b: _tune_run(table, policy, w, rep, b)

    return {
        DEFAULT: tune(DEFAULT_POLICY),
        "random+asha": tune(plain.with_(sampler="random")),
        "tpe (no early stop)": tune(plain.with_(early_stopping=False)),
        "grid": lambda table, w, rep, b: _grid_run(table, w, rep, b),
        "kt hyperband": lambda table, w, rep, b: _keras_tuner_run(table, "hyperband", w, rep, b),
        "kt bayesian": lambda table, w, rep, b: _keras_tuner_run(table, "bayesian", w, rep, b),
        "early_stopping: hyperband (TPE + Hyperband + fresh)": tune(hyperband),
        "previous default (TPE + ASHA)": tune(asha_default),
        "tpe+asha (Ray's tell)": tune(plain),
        "+ pruned tell": tune(plain.with_(tell_pruned=True)),
        "+ prior": tune(plain.with_(prior=True)),
        "+ pruned tell + prior (startup 1/3 up to 10)": tune(plain.with_(tell_pruned=True, prior=True)),
        "+ pruned tell + prior + constant liar": tune(plain.with_(tell_pruned=True, prior=True, constant_liar=True)),
        "+ pruned tell + prior + independent TPE": tune(plain.with_(tell_pruned=True, prior=True, multivariate=False)),
        # Candidates against the default of the first rounds (TPE + ASHA; startup 1/4 up to 30, pruned tell, prior):
        "default without the prior": tune(asha_default.with_(prior=False)),
        "default + grace 2": tune(asha_default.with_(grace_period=2)),
        "default + random 1/3": tune(asha_default.with_(random_fraction=1 / 3)),
        "default + random 1/3 + startup 1/8": tune(asha_default.with_(random_fraction=1 / 3, startup=1 / 8)),
        "default + random 1/2": tune(asha_default.with_(random_fraction=1 / 2)),
        "default + good share 1/4": tune(asha_default.with_(good_share=1 / 4)),
        "default + fresh": tune(asha_default.with_(fresh=True)),
        "default + fresh + startup 1/8": tune(asha_default.with_(fresh=True, startup=1 / 8)),
        "default + fresh + random 1/3": tune(asha_default.with_(fresh=True, random_fraction=1 / 3)),
        "default + fresh + grace 2": tune(asha_default.with_(fresh=True, grace_period=2)),
        "default + 3 brackets": tune(asha_default.with_(brackets=3)),
        "default without early stopping": tune(asha_default.with_(early_stopping=False)),
        "default + grace 3": tune(asha_default.with_(grace_period=3)),
        "default + budget model": tune(asha_default.with_(budget_model=True)),
        "default + hyperband": tune(asha_default.with_(hyperband=True)),
        "default + hyperband + fresh": tune(asha_default.with_(hyperband=True, fresh=True)),
        "default + budget model + fresh": tune(asha_default.with_(budget_model=True, fresh=True)),
        "default + hyperband + budget model + fresh": tune(asha_default.with_(hyperband=True, budget_model=True, fresh=True)),
        "default without early stopping + fresh": tune(asha_default.with_(early_stopping=False, fresh=True)),
        "default + equal brackets + fresh": tune(asha_default.with_(hyperband=True, bracket_shares="equal", fresh=True)),
        "random + hyperband": tune(SearchPolicy(tell_pruned=False, prior=False, sampler="random", hyperband=True)),
        "default + budget model + random 1/3": tune(asha_default.with_(budget_model=True, random_fraction=1 / 3)),
        "tpe (no early stop) + fresh": tune(plain.with_(early_stopping=False, fresh=True)),
        "tpe (no early stop) + random 1/4": tune(plain.with_(early_stopping=False, random_fraction=1 / 4)),
        "tpe (no early stop) + prior": tune(plain.with_(early_stopping=False, prior=True)),
        "tpe (no early stop) + prior + random 1/4": tune(plain.with_(early_stopping=False, prior=True, random_fraction=1 / 4)),
        "tpe (no early stop) + prior + random 1/8": tune(plain.with_(early_stopping=False, prior=True, random_fraction=1 / 8)),
        "tpe (no early stop) + prior + startup 1/4 up to 30": tune(plain.with_(early_stopping=False, prior=True, startup=1 / 4, startup_cap=30)),
        "tpe (no early stop) + prior + constant liar": tune(plain.with_(early_stopping=False, prior=True, constant_liar=True)),
        "tpe (no early stop) + prior + good share 1/4": tune(plain.with_(early_stopping=False, prior=True, good_share=1 / 4)),
        "tpe (no early stop) + prior + good share 1/6": tune(plain.with_(early_stopping=False, prior=True, good_share=1 / 6)),
        "tpe (no early stop) + prior + good share 1/8": tune(plain.with_(early_stopping=False, prior=True, good_share=1 / 8)),
        "tpe (no early stop) + independent": tune(plain.with_(early_stopping=False, multivariate=False)),
        "hyperband + rung check": tune(hyperband.with_(check_rungs=True)),
        "hyperband + rung check - prior (startup 1/3 up to 10)": tune(hyperband.with_(check_rungs=True, prior=False, startup=1 / 3, startup_cap=10)),
        # Candidates against the stall of the third round (re-evaluation; the pick by mean):
        "tpe (no early stop) + prior + confirm 2": tune(plain.with_(early_stopping=False, prior=True, confirm=2)),
        "tpe (no early stop) + prior + confirm 3": tune(plain.with_(early_stopping=False, prior=True, confirm=3)),
        "tpe (no early stop) + prior + fresh": tune(plain.with_(early_stopping=False, prior=True, fresh=True)),
        "tpe (no early stop) + prior + confirm 2 + fresh": tune(plain.with_(early_stopping=False, prior=True, confirm=2, fresh=True)),
        "tpe (no early stop) + prior + confirm 3 + fresh": tune(plain.with_(early_stopping=False, prior=True, confirm=3, fresh=True)),
        "tpe (no early stop) + prior + confirm 2 top 2": tune(plain.with_(early_stopping=False, prior=True, confirm=2, confirm_top=2)),
        "tpe (no early stop) + prior + confirm 2 top 3": tune(plain.with_(early_stopping=False, prior=True, confirm=2, confirm_top=3)),
        "tpe (no early stop) + prior + confirm 3 top 2": tune(plain.with_(early_stopping=False, prior=True, confirm=3, confirm_top=2)),
        "tpe (no early stop) + prior + confirm 2 + fresh after 2": tune(plain.with_(early_stopping=False, prior=True, confirm=2, fresh=True, fresh_after=2)),
        "tpe (no early stop) + prior + confirm 2 + fresh after 3": tune(plain.with_(early_stopping=False, prior=True, confirm=2, fresh=True, fresh_after=3)),
        "tpe (no early stop) + prior + confirm 2 + 8 ei candidates": tune(plain.with_(early_stopping=False, prior=True, confirm=2, ei_candidates=8)),
        "tpe (no early stop) + prior + confirm 2 + 64 ei candidates": tune(plain.with_(early_stopping=False, prior=True, confirm=2, ei_candidates=64)),
        "tpe (no early stop) + prior + confirm 2 + prior weight 3": tune(plain.with_(early_stopping=False, prior=True, confirm=2, prior_weight=3.0)),
        "tpe (no early stop) + prior + confirm 2 + prior weight 10": tune(plain.with_(early_stopping=False, prior=True, confirm=2, prior_weight=10.0)),
        "tpe (no early stop) + prior + confirm 2 + constant liar": tune(plain.with_(early_stopping=False, prior=True, confirm=2, constant_liar=True)),
        "tpe (no early stop) + prior + confirm 2 + random 1/8": tune(plain.with_(early_stopping=False, prior=True, confirm=2, random_fraction=1 / 8)),
        "tpe (no early stop) + prior + confirm 3 + fresh after 3": tune(plain.with_(early_stopping=False, prior=True, confirm=3, fresh=True, fresh_after=3)),
        # Candidates against the stall of the fourth round (local search: a neighbour of the best instead of a random redraw):
        "+ confirm 2 + neighbour for a repeat": tune(confirmed.with_(fresh=True, redraw="neighbour")),
        "+ confirm 2 + neighbour for a repeat of a confirmed": tune(confirmed.with_(fresh=True, fresh_after=2, redraw="neighbour")),
        "+ confirm 2 + every 4th a neighbour": tune(confirmed.with_(random_fraction=1 / 4, redraw="neighbour")),
        "+ confirm 2 + every 8th a neighbour": tune(confirmed.with_(random_fraction=1 / 8, redraw="neighbour")),
    }


def _picks(table: Table, run: Run, budgets: list[int]) -> list[tuple[float, float]]:
    """(regret in points, simulated seconds) at each budget (epochs)."""
    if run.owners is not None:
        return _picks_by_mean(table, run, budgets)
    out = []
    best_value, best_point, k = -1.0, -1, 0
    events = sorted(run.events)
    for b in budgets:
        while k < min(b, len(events)):
            _, point, value = events[k]
            if value > best_value:
                best_value, best_point = value, point
            k += 1
        clock = events[k - 1][0] if k else 0.0
        out.append((100.0 * (table.reference - float(table.quality[best_point])), clock))
    return out


def _picks_by_mean(table: Table, run: Run, budgets: list[int]) -> list[tuple[float, float]]:
    """:func:`_picks` for tuner's strategies, as ``tuner.leaderboard.rank_rows``: the
    configuration with the best mean of its trials' best validation accuracy, over its ended
    trials that trained its most epochs (a configuration with no ended trial: its running
    trials' best so far)."""
    assert run.owners is not None and len(run.owners) == len(run.events)
    best: dict[int, float] = {}
    epochs: dict[int, int] = {}
    point_of: dict[int, int] = {}
    ended: set[int] = set()
    out, k = [], 0
    for b in budgets:
        while k < min(b, len(run.events)):
            _, point, value = run.events[k]
            trial, last = run.owners[k]
            best[trial] = max(best.get(trial, -1.0), value)
            epochs[trial] = epochs.get(trial, 0) + 1
            point_of[trial] = point
            if last:
                ended.add(trial)
            k += 1
        groups: dict[int, list[int]] = {}
        for trial in best:
            groups.setdefault(point_of[trial], []).append(trial)
        ranked: dict[int, float] = {}
        for p, trials in groups.items():
            done = [t for t in trials if t in ended]
            if done:
                deepest = max(epochs[t] for t in done)
                scores = [best[t] for t in done if epochs[t] == deepest]
                ranked[p] = sum(scores) / len(scores)
            else:
                ranked[p] = max(best[t] for t in trials)
        pick = max(ranked, key=lambda p: ranked[p]) if ranked else -1
        clock = run.events[k - 1][0] if k else 0.0
        out.append((100.0 * (table.reference - float(table.quality[pick])), clock))
    return out


def diagnose(table: Table, run: Run) -> dict[str, float] | None:
    """How a search spent its budget (the stall diagnosis): trials proposed, distinct points,
    the share of proposals that repeat a point already proposed, trials that reached the last
    epoch, and the distinct share of each quarter of the proposals (falling: concentrating)."""
    if not run.trials:
        return None
    seen: set[int] = set()
    repeats = 0
    for point in run.trials:
        repeats += point in seen
        seen.add(point)
    n = len(run.trials)
    quarters = [run.trials[i * n // 4 : (i + 1) * n // 4] for i in range(4)]
    return {
        "trials": n,
        "distinct": len(seen),
        "repeat": repeats / n,
        "top": sum(1 for r in run.reached if r >= table.epochs),
        **{f"q{i + 1}": len(set(q)) / max(1, len(q)) for i, q in enumerate(quarters)},
        "best_found": float(table.quality[list(seen)].max() >= table.reference - 0.01),
    }


def _one(job: tuple[str, str, int, int, list[int]]) -> tuple[str, str, int, int, list[tuple[float, float]], dict[str, float] | None]:
    path, name, workers, rep, budgets = job
    table = _tables(path)
    run = strategies()[name](table, workers, rep, max(budgets))
    return path, name, workers, rep, _picks(table, run, budgets), diagnose(table, run)


_cache: dict[str, Table] = {}


def _tables(path: str) -> Table:
    if path not in _cache:
        _cache[path] = load_table(Path(path))
    return _cache[path]


def _init() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore", module="sklearn")  # KerasTuner's GP fits warn on flat data

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("ray").setLevel(logging.ERROR)
    from _digits import register

    register()


def _interval(xs: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval."""
    from scipy import stats

    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, m, m
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    h = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return m, m - h, m + h


#: The first six strategies are the issue's comparison, replayed at every concurrency; the
#: candidates for the default after them at 2 concurrent trials only (this machine's setting).
MAIN = 6
#: KerasTuner's Bayesian oracle maximises its acquisition with 50 L-BFGS restarts on numerical
#: gradients of a GP at every trial: ~4 s a trial on these 2 cores once it has 30 points, two
#: minutes per replayed search at the 50% budget. It is replayed up to the 10% budget (the
#: one whose interval a target compares) and at 2 concurrent trials.
LIMITS = {"kt bayesian": (1, {2})}
#: ... and only on tables of at most this many points: on the 512- and 729-point tables a
#: search reaches 10% after 100-200 trials, 5-15 minutes each.
KT_BAYESIAN_MAX_POINTS = 200


def _cells(name: str, index: int, workers: int) -> int:
    """How many budgets ``name`` is replayed to at ``workers`` (0: not replayed there)."""
    last, allowed = LIMITS.get(name, (len(BUDGETS) - 1, None if index < MAIN else {2}))
    return last + 1 if allowed is None or workers in allowed else 0


def _jobs(paths: list[str], names: list[str], workers: list[int], reps: int, budgets: dict[str, list[int]]) -> Iterator[tuple[str, str, int, int, list[int]]]:
    order = list(strategies())
    for path in paths:
        big = len(_tables(path).points) > KT_BAYESIAN_MAX_POINTS
        for w in workers:
            for name in names:
                cells = 0 if name == "kt bayesian" and big else _cells(name, order.index(name), w)
                for rep in range(reps if cells else 0):
                    yield path, name, w, rep, budgets[path][:cells]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", action="append", required=True, help="a table from bench/tabulate.py (repeat for several)")
    ap.add_argument("--quick", action="store_true", help="8 repetitions, 2 workers, the main strategies: under 5 minutes")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per strategy (default 30; --quick 8)")
    ap.add_argument("--workers", default=None, help="concurrent trials to simulate, comma-separated (default 1,2,8; --quick 2)")
    ap.add_argument("--strategies", default=None, help="comma-separated names (default: all; --quick: the six of the issue)")
    ap.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--png", type=Path, default=None, help="regret-vs-budget figure (default: next to the first table)")
    ap.add_argument("--json", type=Path, default=None, help="write every repetition's numbers here")
    ap.add_argument("--diagnose", action="store_true", help="also print how each search spent its budget (the stall diagnosis)")
    args = ap.parse_args(argv)
    import numpy as np

    _init()
    for p in args.table:
        if not Path(p).is_file():
            print(f"error: no table at {p}; make one with bench/tabulate.py (see BENCHMARKS.md)", file=sys.stderr)
            return 2
    names = list(strategies())
    chosen = args.strategies.split(",") if args.strategies else (names[:6] if args.quick else names)
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"error: unknown strategy {unknown[0]!r}; valid: {', '.join(names)}", file=sys.stderr)
        return 2
    reps = args.reps or (8 if args.quick else 30)
    workers = [int(w) for w in (args.workers or ("2" if args.quick else "1,2,8")).split(",")]
    budgets = {}
    for p in args.table:
        t = _tables(p)
        grid_epochs = len(t.points) * t.epochs
        budgets[p] = [max(1, round(f * grid_epochs)) for f in BUDGETS]
        print(
            f"{t.name}: {len(t.points)} points x {t.val.shape[1]} seeds x {t.epochs} epochs; grid's pick: test {100 * t.reference:.2f}% "
            f"(best point's test {100 * t.quality.max():.2f}%, median point {100 * float(np.median(t.quality)):.2f}%); "
            f"budgets {budgets[p]} trial-epochs",
            flush=True,
        )
    jobs = list(_jobs(args.table, chosen, workers, reps, budgets))
    t0 = time.perf_counter()
    results: dict[tuple[str, str, int], list[list[tuple[float, float]]]] = {}
    diagnoses: dict[tuple[str, str, int], list[dict[str, float]]] = {}

    def _keep(path: str, name: str, w: int, picks: list[tuple[float, float]], diag: dict[str, float] | None) -> None:
        results.setdefault((path, name, w), []).append(picks)
        if diag is not None:
            diagnoses.setdefault((path, name, w), []).append(diag)

    if args.processes > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.processes, initializer=_init) as pool:
            for k, (path, name, w, _rep, picks, diag) in enumerate(pool.imap_unordered(_one, jobs, chunksize=2), start=1):
                _keep(path, name, w, picks, diag)
                if k % max(1, len(jobs) // 20) == 0:
                    print(f"  {k}/{len(jobs)} searches replayed, {time.perf_counter() - t0:.0f} s", flush=True)
    else:
        for path, name, w, _rep, picks, diag in map(_one, jobs):
            _keep(path, name, w, picks, diag)
    print(f"replayed {len(jobs)} searches in {time.perf_counter() - t0:.0f} s\n")

    verdicts: dict[str, list[str]] = {"stall": [], "vs_random": []}
    summary: dict[str, Any] = {}
    for path in args.table:
        t = _tables(path)
        for w in workers:
            print(f"## {t.name}, {w} concurrent trial{'s' if w > 1 else ''}: mean regret (points) [95% CI], share within 1 point, simulated wall")
            print(f"{'strategy':34s}" + "".join(f"{f'{int(100 * f)}% ({b} ep)':>34s}" for f, b in zip(BUDGETS, budgets[path])))
            stats: dict[str, list[tuple[float, float, float, float, float] | None]] = {}
            for name in chosen:
                reps_ = results.get((path, name, w))
                if not reps_:
                    continue
                row: list[tuple[float, float, float, float, float] | None] = []
                for i in range(len(BUDGETS)):
                    if i >= len(reps_[0]):
                        row.append(None)  # not replayed this far (LIMITS)
                        continue
                    regrets = [r[i][0] for r in reps_]
                    m, lo, hi = _interval(regrets)
                    share = sum(1 for x in regrets if x <= 1.0) / len(regrets)
                    wall = sum(r[i][1] for r in reps_) / len(reps_)
                    row.append((m, lo, hi, share, wall))
                stats[name] = row
                print(f"{name:34s}" + "".join(f"{_cell(c):>34s}" for c in row))
            print()
            if args.diagnose:
                _print_diagnosis(path, w, chosen, diagnoses)
            summary[f"{t.name}/w{w}"] = {n: [None if x is None else list(x) for x in v] for n, v in stats.items()}
            if DEFAULT in stats:
                where = f"{t.name} w={w}"
                d, rnd = stats[DEFAULT], stats.get("random+asha")
                half = d[3]
                if half is not None and half[3] < 0.95:
                    verdicts["stall"].append(f"{where}: {100 * half[3]:.0f}%")
                for i in (1, 2):  # 10%, 25%: worse than random + ASHA beyond both intervals
                    mine, other = d[i], (rnd[i] if rnd else None)
                    if mine is not None and other is not None and mine[1] > other[2]:
                        verdicts["vs_random"].append(f"{where} {int(100 * BUDGETS[i])}%: [{mine[1]:.2f},{mine[2]:.2f}] vs [{other[1]:.2f},{other[2]:.2f}]")
    # Averaged over tables: strategies replayed on every table, at 10% and 25%.
    means: dict[str, list[float]] = {}
    for w in workers:
        keys = [k for k in summary if k.endswith(f"/w{w}")]
        for name in chosen:
            rows = [summary[k].get(name) for k in keys]
            if rows and all(r and r[1] is not None and r[2] is not None for r in rows):
                means[f"{name} (w={w})"] = [sum(r[i][0] for r in rows) / len(rows) for i in (1, 2)]  # type: ignore[index]
    if means:
        print(f"mean regret over the {len(args.table)} tables at 10% / 25% (strategies replayed on all of them):")
        for name, (ten, quarter) in sorted(means.items(), key=lambda kv: kv[1][0]):
            print(f"  {name:52s} {ten:6.2f} {quarter:6.2f}")
        print()
    lowest: list[str] = []
    for w in workers:
        mine = means.get(f"{DEFAULT} (w={w})")
        for i, label in ((0, "10%"), (1, "25%")):
            better = [(n, m[i]) for n, m in means.items() if n.endswith(f"(w={w})") and mine is not None and m[i] < mine[i] and not n.startswith(DEFAULT + " ")]
            if better:
                best = min(better, key=lambda x: x[1])
                lowest.append(f"w={w} {label}: {best[0]} {best[1]:.2f} < {mine[i]:.2f}" if mine else "")
    verdicts = {"lowest": lowest, **verdicts}
    if args.json:
        args.json.write_text(json.dumps({"reps": reps, "workers": workers, "budgets": BUDGETS, "results": summary}, indent=1))
    png = args.png or Path(args.table[0]).with_name(f"replay{'-quick' if args.quick else ''}.png")
    _plot(summary, chosen, workers, png)
    print(f"figure: {png}")
    labels = {
        "lowest": "default lowest mean regret over the tables at 10% and 25%",
        "stall": "never stalls (50%: >= 95% of reps within 1 point on every table)",
        "vs_random": "on no table worse than random+ASHA beyond the intervals (10%, 25%)",
    }

    def verdict(misses: list[str]) -> str:
        return "met" if not misses else f"NOT met ({', '.join(misses[:3])}{' ...' if len(misses) > 3 else ''})"

    print("targets: " + "; ".join(f"{labels[k]}: {verdict(v)}" for k, v in verdicts.items()))
    return 0


def _print_diagnosis(path: str, w: int, names: list[str], diagnoses: dict[tuple[str, str, int], list[dict[str, float]]]) -> None:
    """Mean over repetitions of :func:`diagnose`, over each search's whole (largest) budget."""
    print(f"   how the searches spent the {int(100 * BUDGETS[-1])}% budget (means over repetitions):")
    print(f"   {'strategy':34s}{'trials':>8s}{'distinct':>9s}{'repeat':>8s}{'top rung':>9s}  distinct share by quarter   found a point within 1")
    for name in names:
        ds = diagnoses.get((path, name, w))
        if not ds:
            continue
        m = {k: sum(d[k] for d in ds) / len(ds) for k in ds[0]}
        quarters = " ".join(f"{100 * m[f'q{i}']:4.0f}%" for i in range(1, 5))
        print(f"   {name:34s}{m['trials']:8.0f}{m['distinct']:9.0f}{100 * m['repeat']:7.0f}%{m['top']:9.1f}  {quarters}   {100 * m['best_found']:5.0f}%")
    print()


def _cell(c: tuple[float, float, float, float, float] | None) -> str:
    if c is None:
        return "(not replayed)"
    m, lo, hi, share, wall = c
    return f"{m:5.2f} [{lo:5.2f},{hi:5.2f}] {100 * share:3.0f}% {wall:5.0f}s"


def _plot(summary: dict[str, Any], names: list[str], workers: list[int], png: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(summary)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.8), squeeze=False, sharey=False)
    x = [100 * f for f in BUDGETS]
    for ax, key in zip(axes[0], keys):
        for name in names:
            row = [(xx, r) for xx, r in zip(x, summary[key].get(name) or []) if r is not None]
            if not row:
                continue
            xs = [xx for xx, _ in row]
            ax.plot(xs, [r[0] for _, r in row], marker="o", lw=2.4 if name == DEFAULT else 1.2, label=name)
            ax.fill_between(xs, [r[1] for _, r in row], [r[2] for _, r in row], alpha=0.12)
        ax.set_xscale("log")
        ax.set_xticks(x, [f"{v:g}%" for v in x])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        # The grid's early budgets are tens of points off: scale to the searches, say so.
        others = [r for n, row in summary[key].items() if n != "grid" for r in row if r is not None]
        if others:
            ax.set_ylim(min(r[1] for r in others) - 0.3, max(r[2] for r in others) + 0.6)
            ax.text(0.02, 0.97, "grid: off scale where not shown", transform=ax.transAxes, fontsize=7, va="top", color="grey")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("budget (share of the grid's trial-epochs)")
        ax.axhline(1.0, color="grey", ls=":", lw=0.8)
    axes[0][0].set_ylabel("test regret vs grid's pick (points)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
