"""How a stage searches: the sampler table, what the searcher tells Optuna, ASHA's settings.

One owner for the search driver and ``bench/replay.py``: the replay benchmark builds its
searchers and schedulers with these functions, so what it measures is what a search runs.
:data:`DEFAULT_POLICY` is the default search; BENCHMARKS.md ("Search strategies") has the
replay figures that chose it. Optuna and Ray are imported when a function here runs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from tuner.search.space._sampling import DefineByRun

__all__ = [
    "DEFAULT_POLICY",
    "EARLY_STOPPING",
    "HYPERBAND_POLICY",
    "SAMPLERS",
    "SearchPolicy",
    "make_sampler",
    "make_scheduler",
    "make_searcher",
    "stage_policy",
    "startup_trials",
]


@dataclass(frozen=True)
class SearchPolicy:
    """The choices that make a search strategy.

    Attributes:
        sampler: A key of :data:`SAMPLERS`.
        early_stopping: ASHA stops unpromising trials at its rungs; else every trial runs to
            ``max_epochs`` (FIFO).
        tell_pruned: A trial ASHA stopped is told to Optuna as ``PRUNED`` with its per-epoch
            values (TPE then ranks it by how far it got), not as ``COMPLETE`` with the score
            of its one or two epochs (Ray's ``OptunaSearch``, which mixes fidelities).
        prior: The first trials are the conventional configurations of
            :func:`tuner.search.space._sampling.prior_points`, one per architecture.
        startup: TPE's random start-up trials as a fraction of ``num_samples`` (at least 2, at
            most ``startup_cap``).
        grace_period: ASHA's first rung in epochs; ``None``: the space's ``budget.grace_period``.
        startup_cap: At most this many start-up trials.
        multivariate: TPE models the parameters jointly (Optuna's ``multivariate=True, group=True``),
            else one at a time.
        constant_liar: TPE treats running trials as bad ones when it samples, so concurrent
            suggestions spread out instead of repeating one another.
        random_fraction: After the start-up, this share of the trials is still drawn at random
            (every ``round(1 / random_fraction)``-th; BOHB's random fraction), so a model that
            narrowed in early keeps seeing the rest of the space.
        fresh: A trial for which TPE proposes parameters an earlier trial already has (on a
            discrete space, once it has narrowed in) is redrawn instead (``redraw`` says how).
        good_share: TPE's share of the trials it models as "good" (its gamma); ``None``:
            Optuna's default, a tenth of them up to 25.
        budget_model: TPE is fitted at one budget, BOHB's way (:class:`BudgetSampler`):
            every trial's value at the largest epoch enough trials reached.
        brackets: ASHA's brackets (bracket ``b`` first stops trials at ``grace_period *
            reduction_factor ** b``); 1 is plain ASHA. Ray gives a bracket with one rung fewer
            e (2.7) times fewer trials.
        hyperband: Hyperband's brackets instead: one per rung count down to a bracket that
            never stops a trial, with Hyperband's trial shares (each bracket spends about the
            same epochs; :class:`HyperbandBrackets`).
        check_rungs: With ``hyperband``, a rung stops trials only while it ranks them as their
            last epoch does (:meth:`HyperbandBrackets.rung_trusted`).
        confirm: The incumbent (best mean score) is trained again, with the next seed, until
            this many trials of it have run, before anything new is proposed
            (:class:`ScoredOptunaSearch`); 1: never.
        confirm_top: ... and so are the configurations ranked after it, down to this rank.
        fresh_after: With ``fresh``, a proposal is redrawn once this many trials have its
            parameters (1: any repeat; ``confirm``: once a configuration is confirmed).
        ei_candidates: Candidates TPE draws from its good model per proposal, keeping the one
            of the highest expected improvement (Optuna's ``n_ei_candidates``; fewer explore more).
        prior_weight: The weight of TPE's flat prior in its estimators (Optuna's, ``None``: 1);
            heavier keeps values the good trials have not used in play.
        redraw: What a trial that ``fresh`` or ``random_fraction`` redraws gets: a uniform
            draw, or an untried neighbour of the best configuration (:class:`ExploringSampler`).
    """

    sampler: Literal["tpe", "random"] = "tpe"
    early_stopping: bool = True
    tell_pruned: bool = True
    prior: bool = True
    startup: float = 1 / 3
    grace_period: int | None = None
    startup_cap: int = 10
    multivariate: bool = True
    constant_liar: bool = False
    random_fraction: float = 0.0
    good_share: float | None = None
    fresh: bool = False
    brackets: int = 1
    budget_model: bool = False
    hyperband: bool = False
    bracket_shares: Literal["hyperband", "equal"] = "hyperband"
    check_rungs: bool = False
    confirm: int = 1
    confirm_top: int = 1
    fresh_after: int = 1
    ei_candidates: int = 24
    prior_weight: float | None = None
    redraw: Literal["random", "neighbour"] = "random"

    def with_(self, **changes: Any) -> SearchPolicy:
        return replace(self, **changes)


#: The default search, chosen by bench/replay.py over eight learning-curve tables of three
#: families, at equal trial-epochs (BENCHMARKS.md "Search strategies"): TPE over the whole
#: space with a conventional first trial per architecture (the prior) and a third of the
#: trials (up to 10) random, every trial trained to ``max_epochs``. Every early-stopping
#: variant replayed had a higher regret averaged over the tables at 10% and at 25% of the
#: grid's trial-epochs, on the image tables as well as on the benchmark whose early epochs
#: predict nothing: a stopped trial's one or two epochs rank configurations poorly (Spearman
#: 0.24-0.45 with the last epoch at epoch 1 on the image tables), and TPE under ASHA narrows
#: in on what ASHA promoted. The incumbent is confirmed by a second training (``confirm=2``;
#: configurations rank by their mean): one lucky initialisation on a small validation set
#: no longer decides the pick (lower regret on the replay's mean, and a stall less often).
#: A proposal that repeats a trained configuration (TPE narrowed in, on a discrete space) is
#: replaced by an untried neighbour of the best configuration (``fresh`` with ``redraw=
#: "neighbour"``: SMAC's local search): the only change replayed that ends within a point of
#: the best in at least 95% of searches on every table (random redraws and every other
#: exploration knob lost more on the mean than they gained there).
DEFAULT_POLICY = SearchPolicy(early_stopping=False, prior=True, confirm=2, fresh=True, redraw="neighbour")
#: ``budget.early_stopping: hyperband``: the best early-stopping policy of the replay (the
#: default before): Hyperband's brackets, stopped trials told as pruned, no point proposed
#: twice, a quarter of the trials (up to 30) random. It trains about a third of the epochs
#: per trial, so a space that picks it can afford about three times the trials.
HYPERBAND_POLICY = SearchPolicy(startup=1 / 4, startup_cap=30, hyperband=True, fresh=True)
#: ``budget.early_stopping``: the policy each value runs.
EARLY_STOPPING: dict[str, SearchPolicy] = {
    "none": DEFAULT_POLICY,
    "hyperband": HYPERBAND_POLICY,
    "asha": HYPERBAND_POLICY.with_(hyperband=False),  # plain ASHA: every trial faces the first rung
}


def stage_policy(sampler: str, early_stopping: str, probe: bool = False) -> SearchPolicy:
    """The policy a stage runs: the space's ``budget.early_stopping`` policy with its
    ``budget.sampler`` (``grid`` keeps TPE's settings; its trials come from the grid). The
    probe's few trials must end with a model that learned, and are there for their confusions,
    not to pick a winner: nothing stops them and none is trained twice on purpose."""
    policy = EARLY_STOPPING[early_stopping]
    if probe:
        policy = policy.with_(early_stopping=False, confirm=1)
    return policy if sampler == "grid" else policy.with_(sampler=sampler)


def startup_trials(num_samples: int, fraction: float = 1 / 3, cap: int = 10) -> int:
    """TPE's random start-up trials for a search of ``num_samples`` trials (2..``cap``)."""
    return max(2, min(cap, int(num_samples * fraction)))


def _tpe(seed: int, num_samples: int, policy: SearchPolicy) -> optuna.samplers.BaseSampler:
    import functools

    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if policy.good_share or policy.prior_weight:  # deprecated since Optuna 4.9 (replay candidates only)
            warnings.simplefilter("ignore", FutureWarning)
        return optuna.samplers.TPESampler(
            seed=seed,
            multivariate=policy.multivariate,
            group=policy.multivariate,  # conditional parameters (per-architecture ranges)
            constant_liar=policy.constant_liar,
            n_startup_trials=startup_trials(num_samples, policy.startup, policy.startup_cap),
            n_ei_candidates=policy.ei_candidates,
            prior_weight=policy.prior_weight,
            # partial of a module-level function: Tune pickles the searcher (a lambda would not).
            gamma=functools.partial(_good_trials, policy.good_share) if policy.good_share else None,
        )


def _good_trials(share: float, n: int) -> int:
    """TPE's gamma: how many of ``n`` trials it models as good (Optuna's default uses 0.1)."""
    return min(math.ceil(share * n), 25)


def _random(seed: int, num_samples: int, policy: SearchPolicy) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


#: Sampler name -> ``build(seed, num_samples, policy)``. A space's ``budget.sampler`` names
#: one (``grid`` is not a sampler: the driver runs every point once).
SAMPLERS: dict[str, Callable[[int, int, SearchPolicy], optuna.samplers.BaseSampler]] = {"tpe": _tpe, "random": _random}


def make_sampler(policy: SearchPolicy, seed: int, num_samples: int) -> optuna.samplers.BaseSampler:
    """The Optuna sampler of ``policy``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = SAMPLERS[policy.sampler](seed, num_samples, policy)
    if policy.sampler != "random" and policy.budget_model:
        from tuner.search.strategy._samplers import BudgetSampler

        # The view has no start-up of its own: until it has min_trials trials, BudgetSampler is random.
        sampler = BudgetSampler(
            SAMPLERS[policy.sampler](seed, num_samples, policy.with_(startup=0.0, startup_cap=0)),
            seed=seed,
            min_trials=startup_trials(num_samples, policy.startup, policy.startup_cap),
        )
    if policy.sampler != "random" and (policy.random_fraction > 0 or policy.fresh):
        from tuner.search.strategy._samplers import ExploringSampler

        every = max(2, round(1 / policy.random_fraction)) if policy.random_fraction > 0 else None
        sampler = ExploringSampler(sampler, seed=seed, every=every, fresh=policy.fresh_after if policy.fresh else 0, redraw=policy.redraw)
    return sampler


def make_searcher(space_fn: DefineByRun, policy: SearchPolicy, *, seed: int, num_samples: int, max_epochs: int, mode: str) -> Any:
    """The Tune searcher of a stage: Optuna over ``space_fn`` with ``policy``'s sampler."""
    from tuner.search.space._sampling import prior_points
    from tuner.search.strategy._searcher import ScoredOptunaSearch

    return ScoredOptunaSearch(
        space=space_fn,
        metric="objective",
        mode=mode,
        sampler=make_sampler(policy, seed, num_samples),
        points_to_evaluate=prior_points(space_fn) if policy.prior else None,
        full_epochs=max_epochs if policy.tell_pruned else None,
        confirm=policy.confirm,
        confirm_top=policy.confirm_top,
    )


def make_scheduler(policy: SearchPolicy, *, max_epochs: int, grace_period: int, reduction_factor: float) -> Any:
    """The Tune scheduler of a stage: ASHA on the ``epoch`` the worker reports, or FIFO."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if not policy.early_stopping:
        return FIFOScheduler()
    if policy.hyperband:
        from tuner.search.strategy._schedulers import HyperbandBrackets

        return HyperbandBrackets(
            time_attr="epoch",
            max_t=max_epochs + 1,
            grace_period=min(policy.grace_period or grace_period, max_epochs),
            reduction_factor=reduction_factor,
            shares=policy.bracket_shares,
            check_rungs=policy.check_rungs,
        )
    return ASHAScheduler(
        time_attr="epoch",  # reported by the worker; survives restore, unlike training_iteration
        # One past the last epoch: a trial that reaches max_epochs ends by itself, cleanly,
        # instead of being killed by Tune while its Train run shuts down.
        max_t=max_epochs + 1,
        grace_period=min(policy.grace_period or grace_period, max_epochs),
        reduction_factor=reduction_factor,
        brackets=policy.brackets,
    )
