"""The search strategy: the sampler table, the prior's first trials, what Optuna is told about
trials ASHA stopped, and ASHA's settings (no Ray instance needed: these are the objects)."""

from __future__ import annotations

import math

import optuna
import pytest

from tuner._params import PARAMS
from tuner.search.space._load import load_space
from tuner.search.space._sampling import DefineByRun, prior_points
from tuner.search.space._space import SearchSpace
from tuner.search.strategy._strategy import DEFAULT_POLICY, SAMPLERS, make_sampler, make_scheduler, make_searcher, startup_trials
from tuner.zoo import get_spec


def _space(**params: dict) -> SearchSpace:
    return SearchSpace.model_validate({"architectures": ["mobilenet_v2", "resnet50"], "params": params})


def test_prior_is_one_point_per_architecture_at_the_nearest_allowed_value():
    space = _space(
        lr={"choice": [1e-5, 1e-4, 1e-3]},
        optimizer={"choice": ["sgd_momentum", "adam"]},
        unfrozen_blocks={"int": [0, "max"]},
        warmup_epochs={"choice": [0, 2]},
        dropout={"uniform": [0.3, 0.6]},
    )
    points = prior_points(DefineByRun(space))
    assert [p["architecture"] for p in points] == ["mobilenet_v2", "resnet50"]
    priors = {p.name: p.prior for p in PARAMS}
    for point in points:
        arch = point["architecture"]
        assert point["lr"] == min([1e-5, 1e-4, 1e-3], key=lambda v: abs(math.log(v / priors["lr"])))
        assert point["optimizer"] == priors["optimizer"]
        assert point[f"unfrozen_blocks.{arch}"] == round(get_spec(arch).num_blocks / 3)
        assert point["warmup_epochs"] in (0, 2) and abs(point["warmup_epochs"] - priors["warmup_epochs"]) <= 1
        assert point["dropout"] == 0.3  # the default 0.2, clamped into the range
    # every point is a valid trial of the space: the define-by-run function accepts it
    for point in points:
        DefineByRun(space)(optuna.trial.FixedTrial(point))


@pytest.mark.parametrize("name", ["finetune", "scratch"])
def test_prior_points_of_every_shipped_space_are_valid_trials(name):
    """Each prior point, asked of a real study, comes back as itself: every value inside its
    distribution (Optuna's FixedTrial only warns on one outside; here that is an error)."""
    import warnings

    space = load_space(name)
    fn = DefineByRun(space)
    specs = {p.name: p for p in PARAMS}
    points = prior_points(fn)
    assert len(points) == len(space.architectures)
    for point in points:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            config = fn(optuna.trial.FixedTrial(point))
        study = optuna.create_study(direction="maximize")
        study.enqueue_trial(point)
        trial = study.ask()
        assert fn(trial) == config
        for key, value in trial.params.items():
            assert value == point[key], key
        for name_, value in config.items():
            if name_ in specs:
                assert specs[name_].problem(value) is None, (name_, value)


@pytest.mark.parametrize("kind", sorted(SAMPLERS))
def test_sampler_table(kind):
    """Each name builds its own Optuna sampler, seeded: the same seed proposes the same trials."""
    expected = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
    space = _space(lr={"loguniform": [1e-4, 1e-2]}, optimizer={"choice": ["adam", "rmsprop", "sgd"]})

    def proposals(seed: int) -> list[dict]:
        study = optuna.create_study(direction="maximize", sampler=make_sampler(DEFAULT_POLICY.with_(sampler=kind), seed=seed, num_samples=30))
        out = []
        for i in range(12):
            trial = study.ask()
            out.append(DefineByRun(space)(trial))
            study.tell(trial, float(i % 5))
        return out

    sampler = make_sampler(DEFAULT_POLICY.with_(sampler=kind), seed=0, num_samples=30)
    if kind == "tpe" and DEFAULT_POLICY.fresh:  # the model's repeats are redrawn (ExploringSampler)
        sampler = sampler._base
    assert type(sampler) is expected[kind]
    if kind == "tpe":  # the default's start-up: a third of the trials, at least 2, at most 10
        assert sampler._n_startup_trials == startup_trials(30, DEFAULT_POLICY.startup, DEFAULT_POLICY.startup_cap) == 10
        assert startup_trials(12, DEFAULT_POLICY.startup, DEFAULT_POLICY.startup_cap) == 4
    assert proposals(0) == proposals(0) and proposals(0) != proposals(1)
    assert startup_trials(30) == 10 and startup_trials(3) == 2 and startup_trials(1000, 1 / 4, 30) == 30


def _searcher(policy=DEFAULT_POLICY, max_epochs=6):
    space = _space(lr={"loguniform": [1e-4, 1e-2]}, optimizer={"choice": ["adam", "rmsprop"]})
    return make_searcher(DefineByRun(space), policy, seed=0, num_samples=12, max_epochs=max_epochs, mode="max")


def _state(searcher, trial_id):
    frozen = searcher._ot_study.get_trials(deepcopy=False)
    return next(t for t in frozen if t._trial_id == searcher._ot_trials[trial_id]._trial_id)


def test_first_trials_are_the_prior():
    searcher = _searcher()
    prior = prior_points(DefineByRun(_space(lr={"loguniform": [1e-4, 1e-2]}, optimizer={"choice": ["adam", "rmsprop"]})))
    for i, point in enumerate(prior):
        config = searcher.suggest(f"t{i}")
        assert config["architecture"] == point["architecture"] and config["lr"] == pytest.approx(point["lr"])


def test_a_trial_asha_stopped_is_told_pruned_with_its_epochs():
    """Ray's OptunaSearch tells it COMPLETE with its 2-epoch score (one population with full
    trainings); tuner tells it PRUNED, its values at their epochs, the stopping result too."""
    searcher = _searcher()
    searcher.suggest("a")
    searcher.on_trial_result("a", {"epoch": 1, "training_iteration": 1, "objective": 0.5, "finished": False})
    # Tune passes the result that made ASHA stop the trial to on_trial_complete only
    searcher.on_trial_complete("a", result={"epoch": 2, "training_iteration": 2, "objective": 0.6, "finished": False})
    stopped = _state(searcher, "a")
    assert stopped.state == optuna.trial.TrialState.PRUNED
    assert stopped.intermediate_values == {1: 0.5, 2: 0.6}

    searcher.suggest("b")
    for epoch in range(1, 7):
        searcher.on_trial_result("b", {"epoch": epoch, "objective": 0.9, "finished": epoch == 6})
    searcher.on_trial_complete("b", result={"epoch": 6, "objective": 0.9, "finished": True})
    done = _state(searcher, "b")
    assert done.state == optuna.trial.TrialState.COMPLETE and done.value == 0.9


def test_rays_tell_is_kept_when_asked():
    searcher = _searcher(DEFAULT_POLICY.with_(tell_pruned=False))
    searcher.suggest("a")
    searcher.on_trial_complete("a", result={"epoch": 2, "training_iteration": 2, "objective": 0.6, "finished": False})
    assert _state(searcher, "a").state == optuna.trial.TrialState.COMPLETE


def test_a_result_without_a_score_is_not_passed_on():
    searcher = _searcher()
    searcher.suggest("a")
    searcher.on_trial_result("a", {"epoch": 1, "finished": False})  # a NaN first epoch: no objective
    searcher.on_trial_complete("a", result={"epoch": 1, "finished": True, "failure_reason": "nan_loss"})
    assert _state(searcher, "a").state == optuna.trial.TrialState.PRUNED  # Optuna: no value, not an error


def test_scheduler_settings():
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from tuner.search.strategy._strategy import EARLY_STOPPING

    asha = make_scheduler(EARLY_STOPPING["asha"], max_epochs=9, grace_period=20, reduction_factor=3)
    assert isinstance(asha, ASHAScheduler)
    assert asha._max_t == 10  # one past the last epoch: a full trial ends by itself
    assert asha._brackets[0]._rungs[-1][0] == 9  # grace period capped at max_epochs
    assert isinstance(make_scheduler(DEFAULT_POLICY, max_epochs=9, grace_period=2, reduction_factor=3), FIFOScheduler)


def test_the_default_search_is_the_one_the_replay_chose():
    """A space that says nothing about early stopping runs DEFAULT_POLICY: TPE with the prior,
    every trial to max_epochs (BENCHMARKS.md "Search strategies")."""
    from tuner.search.strategy._strategy import stage_policy

    space = _space(lr={"loguniform": [1e-4, 1e-2]})
    assert space.budget.early_stopping == "none"
    policy = stage_policy("tpe", space.budget.early_stopping)
    assert policy == DEFAULT_POLICY and not policy.early_stopping and policy.prior and policy.sampler == "tpe"


def test_a_rung_stops_trials_only_while_it_ranks_them_as_the_last_epoch_does():
    """``check_rungs``: until MIN_PAIRS trials reached both the rung and the last epoch the rung
    stops as ASHA's would; once they rank trials backwards, it stops none; once they agree, it
    stops again."""
    import numpy as np

    from tuner.search.strategy._schedulers import HyperbandBrackets

    def run(agree: bool) -> list[str]:
        np.random.seed(0)
        hb = HyperbandBrackets(time_attr="epoch", max_t=5, grace_period=1, reduction_factor=2, metric="objective", mode="max", check_rungs=True)
        hb._shares = np.array([0.0] * (len(hb._shares) - 1) + [1.0])  # first: the never-stopping bracket
        for i in range(HyperbandBrackets.MIN_PAIRS):
            trial = type("T", (), {"trial_id": f"full{i}"})()
            hb.on_trial_add(None, trial)
            for epoch in range(1, 5):  # epoch 1 ranks as epoch 4 does, or backwards
                hb.on_trial_result(None, trial, {"epoch": epoch, "objective": i if (agree or epoch == 4) else -i})
        hb._shares = np.array([1.0] + [0.0] * (len(hb._shares) - 1))  # then: ASHA's own bracket
        decisions = []
        for i in range(6):  # each worse at epoch 1 than all before
            trial = type("T", (), {"trial_id": f"t{i}"})()
            hb.on_trial_add(None, trial)
            decisions.append(hb.on_trial_result(None, trial, {"epoch": 1, "objective": -100.0 - i}))
        return decisions

    assert "STOP" in run(agree=True)
    assert set(run(agree=False)) == {"CONTINUE"}


def test_random_fraction_draws_every_kth_trial_at_random_and_the_rest_from_tpe():
    """After TPE's start-up, a third of the trials (every third by number) are uniform draws:
    the random sampler's values, not TPE's, even where TPE has narrowed to one corner."""
    from tuner.search.strategy._samplers import ExploringSampler

    policy = DEFAULT_POLICY.with_(random_fraction=1 / 3, startup=0.1, startup_cap=2, fresh=False, redraw="random")
    sampler = make_sampler(policy, seed=0, num_samples=40)
    assert isinstance(sampler, ExploringSampler)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    # The best values are all at x near 0: TPE's trials concentrate there.
    study.optimize(lambda t: -abs(t.suggest_float("x", 0.0, 1.0)), n_trials=60)
    xs = [t.params["x"] for t in study.trials]
    explored = [x for t, x in zip(study.trials, xs) if t.number % 3 == 2]
    modelled = [x for t, x in zip(study.trials, xs) if t.number % 3 != 2 and t.number >= 10]
    assert sum(explored) / len(explored) > 0.3  # uniform on [0, 1]: mean near 0.5
    assert sum(modelled) / len(modelled) < 0.15  # TPE's: near the optimum
    # reproducible from the seed, and picklable (Tune saves its searcher)
    import pickle

    again = optuna.create_study(sampler=pickle.loads(pickle.dumps(make_sampler(policy, seed=0, num_samples=40))), direction="maximize")
    again.optimize(lambda t: -abs(t.suggest_float("x", 0.0, 1.0)), n_trials=60)
    assert [t.params["x"] for t in again.trials] == xs


def test_random_fraction_is_refused_below_every_second_trial():
    from tuner.search.strategy._samplers import ExploringSampler

    with pytest.raises(ValueError, match="every must be at least 2"):
        ExploringSampler(optuna.samplers.TPESampler(), seed=0, every=1)
    with pytest.raises(ValueError, match="redraw must be 'random' or 'neighbour'; got 'nearby'"):
        ExploringSampler(optuna.samplers.TPESampler(), seed=0, fresh=1, redraw="nearby")  # type: ignore[arg-type]


class _Narrowed(optuna.samplers.BaseSampler):
    """A model that has narrowed in on one point: it proposes x = 0 every time."""

    def infer_relative_search_space(self, study, trial):
        return {"x": optuna.distributions.CategoricalDistribution(list(range(20)))}

    def sample_relative(self, study, trial, search_space):
        return {"x": 0} if search_space else {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        return 0


@pytest.mark.parametrize("fresh", [False, True])
def test_fresh_draws_a_repeat_of_tried_values_at_random(fresh):
    """A trial for which the model proposes values an earlier trial has is a random draw
    instead (with ``fresh``); the model's own proposals pass through."""
    from tuner.search.strategy._samplers import ExploringSampler

    sampler = ExploringSampler(_Narrowed(), seed=0, fresh=fresh) if fresh else _Narrowed()
    study = optuna.create_study(sampler=sampler, direction="maximize")
    study.optimize(lambda t: -t.suggest_categorical("x", list(range(20))), n_trials=30)
    xs = [t.params["x"] for t in study.trials]
    assert xs[0] == 0
    if fresh:
        assert xs.count(0) <= 4 and len(set(xs)) >= 12  # uniform draws of 20 values after the first
    else:
        assert set(xs) == {0}
    # the production path builds the same wrapper
    from tuner.search.strategy._samplers import ExploringSampler as _E

    assert isinstance(make_sampler(DEFAULT_POLICY.with_(fresh=True), seed=0, num_samples=40), _E)


class _Stuck(optuna.samplers.BaseSampler):
    """A model stuck on one corner of a 2-d space: it proposes (x=0, c="a") every time."""

    space = {"x": optuna.distributions.CategoricalDistribution(list(range(20))), "c": optuna.distributions.CategoricalDistribution(["a", "b", "c"])}

    def infer_relative_search_space(self, study, trial):
        return dict(self.space)

    def sample_relative(self, study, trial, search_space):
        return {"x": 0, "c": "a"} if search_space else {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        return {"x": 0, "c": "a"}[param_name]


def _climb(t):
    x, c = t.suggest_categorical("x", list(range(20))), t.suggest_categorical("c", ["a", "b", "c"])
    return -abs(x - 7) - (c != "b")


@pytest.mark.parametrize("redraw", ["random", "neighbour"])
def test_a_redrawn_repeat_is_an_untried_neighbour_of_the_best(redraw):
    """With ``redraw="neighbour"``, a repeat is replaced by an untried point one step from the
    best configuration: the next value of an ordered choice or another category. From a
    model stuck in a corner it climbs to the optimum; uniform redraws jump anywhere."""
    from tuner.search.strategy._samplers import ExploringSampler

    study = optuna.create_study(sampler=ExploringSampler(_Stuck(), seed=3, fresh=1, redraw=redraw), direction="maximize")
    study.optimize(_climb, n_trials=40)
    points = [(t.params["x"], t.params["c"]) for t in study.trials]
    assert points[0] == (0, "a")

    def step(a, b):
        return (abs(a[0] - b[0]) == 1 and a[1] == b[1]) or (a[0] == b[0] and a[1] != b[1])

    found = points.index((7, "b")) if (7, "b") in points else len(points)
    # up to the optimum, each trial is one step from the best before it
    climbs = [step(p, points[max(range(i), key=lambda j: study.trials[j].value)]) for i, p in enumerate(points[1 : found + 1], start=1)]
    if redraw == "neighbour":
        assert all(climbs) and found <= 20
        assert len(set(points)) == len(points)  # no point twice
        # then the best's neighbours are all tried, and the next ones' are
        assert all(any(step(p, q) for q in points[:i]) for i, p in enumerate(points[1:], start=1))
    else:
        assert sum(climbs) < len(climbs) / 2


def test_a_neighbour_moves_one_step_in_each_kind_of_distribution():
    import numpy as np
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from tuner.search.strategy._samplers import _moves

    rng = np.random.default_rng(0)
    assert _moves(0.001, CategoricalDistribution([0.01, 0.0003, 0.001, 0.003]), rng) == [0.0003, 0.003]  # ordered by value
    assert _moves(0.01, CategoricalDistribution([0.01, 0.0003, 0.001]), rng) == [0.001]
    assert sorted(_moves("adam", CategoricalDistribution(["adam", "sgd", "rmsprop"]), rng)) == ["rmsprop", "sgd"]
    assert _moves(True, CategoricalDistribution([False, True]), rng) == [False]  # booleans are categories
    assert _moves(0, IntDistribution(0, 4), rng) == [1]
    assert _moves(4, IntDistribution(0, 8, step=2), rng) == [2, 6]
    moved = [_moves(1e-3, FloatDistribution(1e-5, 1e-1, log=True), rng)[0] for _ in range(200)]
    assert all(1e-5 <= m <= 1e-1 for m in moved)
    ratios = np.abs(np.log10(np.array(moved) / 1e-3))
    assert 0.3 < float(np.median(ratios)) < 1.2  # a fifth of four decades is 0.8: steps of that size


def test_neighbour_redraws_are_reproducible_and_picklable():
    import pickle

    from tuner.search.strategy._samplers import ExploringSampler

    def run(sampler):
        study = optuna.create_study(sampler=sampler, direction="maximize")
        study.optimize(_climb, n_trials=15)
        return [t.params for t in study.trials]

    first = run(ExploringSampler(_Stuck(), seed=5, fresh=1, redraw="neighbour"))
    assert run(pickle.loads(pickle.dumps(ExploringSampler(_Stuck(), seed=5, fresh=1, redraw="neighbour")))) == first
    assert run(ExploringSampler(_Stuck(), seed=6, fresh=1, redraw="neighbour")) != first


def test_hyperband_brackets_share_trials_as_hyperband_and_the_last_never_stops():
    import numpy as np

    from tuner.search.strategy._schedulers import HyperbandBrackets

    hb = HyperbandBrackets(time_attr="epoch", max_t=13, grace_period=1, reduction_factor=3, metric="objective", mode="max")
    shares = hb.bracket_shares
    assert [k for k, _ in shares] == [3, 2, 1, 0]  # rungs 1,3,9 / 3,9 / 9 / none
    weights = [27 / 4, 9 / 3, 3 / 2, 1 / 1]  # eta**k / (k + 1): each bracket about the same epochs
    assert [p for _, p in shares] == pytest.approx([w / sum(weights) for w in weights])
    np.random.seed(0)
    placed = []
    for i in range(4000):
        trial = type("T", (), {"trial_id": f"t{i}"})()
        hb.on_trial_add(None, trial)
        placed.append(len(hb._trial_info[trial.trial_id]._rungs))
    for k, p in shares:
        assert placed.count(k) / len(placed) == pytest.approx(p, abs=0.03)
    never = next(t for t, k in zip(range(4000), placed) if k == 0)
    trial = type("T", (), {"trial_id": f"t{never}"})()
    for epoch in range(1, 13):  # the worst scores there are: still never stopped
        assert hb.on_trial_result(None, trial, {"epoch": epoch, "objective": 0.0}) == "CONTINUE"


@pytest.mark.parametrize(("stopping", "kind"), [("hyperband", "HyperbandBrackets"), ("asha", "AsyncHyperBandScheduler"), ("none", "FIFOScheduler")])
def test_a_space_picks_how_trials_stop(stopping, kind):
    """``budget.early_stopping`` picks the scheduler a stage builds; the probe is never stopped."""
    from tuner.search.strategy._strategy import stage_policy

    space = _space(lr={"loguniform": [1e-4, 1e-2]}).with_budget(early_stopping=stopping)
    policy = stage_policy("tpe", space.budget.early_stopping)
    assert type(make_scheduler(policy, max_epochs=9, grace_period=1, reduction_factor=3)).__name__ == kind
    probe = stage_policy("tpe", space.budget.early_stopping, probe=True)
    assert type(make_scheduler(probe, max_epochs=9, grace_period=1, reduction_factor=3)).__name__ == "FIFOScheduler"
    assert probe.confirm == 1 and stage_policy("tpe", "none").confirm == 2
    assert stage_policy("random", stopping).sampler == "random" and stage_policy("grid", stopping).sampler == "tpe"


def _finish(searcher, trial_id, score, epochs=6):
    for epoch in range(1, epochs + 1):
        searcher.on_trial_result(trial_id, {"epoch": epoch, "objective": score, "finished": epoch == epochs})
    searcher.on_trial_complete(trial_id, result={"epoch": epochs, "objective": score, "finished": True})


def _params(config):
    return {k: v for k, v in config.items() if k != "repeat"}


def test_the_incumbent_is_trained_again_with_the_next_seed_before_anything_new():
    """confirm=2: once the prior's trials ended, the best configuration (one training) is
    proposed again, numbered repeat 1 (its trial trains with seed + 1); once it has two
    trainings, or while its second is running, the sampler proposes new points."""
    from tuner.data import demo_dataset_dir
    from tuner.search.plan._plan import Options, build_plan
    from tuner.search.trial import trial_config

    searcher = _searcher(DEFAULT_POLICY.with_(confirm=2))
    first, second = searcher.suggest("p0"), searcher.suggest("p1")  # the prior: one per architecture
    assert first["repeat"] == second["repeat"] == 0
    _finish(searcher, "p0", 0.7)
    _finish(searcher, "p1", 0.8)
    again = searcher.suggest("c1")
    assert _params(again) == _params(second) and again["repeat"] == 1
    plan = build_plan(Options(space="finetune", data=str(demo_dataset_dir()), seed=5))
    assert trial_config(again, plan).seed == 6 and "repeat" not in trial_config(again, plan).params
    assert trial_config(second, plan).seed == 5
    new = searcher.suggest("n1")  # the incumbent's second training is running: not proposed a third time
    assert _params(new) not in (_params(first), _params(second)) and new["repeat"] == 0
    _finish(searcher, "c1", 0.6)  # its mean (0.7) ties the other's one training: that one is next
    _finish(searcher, "n1", 0.1)
    assert _params(searcher.suggest("c2")) == _params(first)


def test_a_configuration_proposed_again_is_numbered_so_it_trains_with_another_seed():
    space = _space(lr={"choice": [1e-3]}, optimizer={"choice": ["adam"]})  # two points: one per architecture
    searcher = make_searcher(DefineByRun(space), DEFAULT_POLICY.with_(confirm=1, prior=False, fresh=False), seed=0, num_samples=8, max_epochs=2, mode="max")
    configs = [searcher.suggest(f"t{i}") for i in range(6)]
    for arch in ("mobilenet_v2", "resnet50"):
        assert [c["repeat"] for c in configs if c["architecture"] == arch] == list(range(sum(c["architecture"] == arch for c in configs)))


def test_without_confirm_nothing_is_proposed_again_on_purpose():
    searcher = _searcher(DEFAULT_POLICY.with_(confirm=1))
    searcher.suggest("p0"), searcher.suggest("p1")
    _finish(searcher, "p0", 0.7)
    _finish(searcher, "p1", 0.8)
    # TPE's start-up: random draws from a continuous lr, never equal to the prior's
    assert searcher.suggest("n")["repeat"] == 0


def test_the_default_confirms_its_incumbent():
    assert DEFAULT_POLICY.confirm == 2 and not DEFAULT_POLICY.early_stopping
    assert DEFAULT_POLICY.fresh and DEFAULT_POLICY.fresh_after == 1 and DEFAULT_POLICY.redraw == "neighbour"


@pytest.mark.parametrize("fresh", [True, False])
def test_on_a_discrete_space_the_default_trains_a_configuration_at_most_twice(fresh):
    """The default's searcher, end to end on a discrete space: its repeats are the
    confirmations (repeat 1, at most one per configuration); TPE's own repeats are replaced by
    untried neighbours of the best. Without ``fresh`` TPE trains its favourite again and again."""
    import math

    space = _space(
        lr={"choice": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]}, optimizer={"choice": ["adam", "rmsprop", "sgd_momentum"]}, dropout={"choice": [0.0, 0.3, 0.6]}
    )
    searcher = make_searcher(DefineByRun(space), DEFAULT_POLICY.with_(fresh=fresh), seed=1, num_samples=40, max_epochs=2, mode="max")
    counts: dict[tuple, int] = {}
    for i in range(40):
        config = searcher.suggest(f"t{i}")
        key = tuple(sorted(_params(config).items()))
        assert config["repeat"] == counts.get(key, 0)
        counts[key] = counts.get(key, 0) + 1
        score = 0.9 - abs(math.log10(config["lr"]) + 3) / 10 - 0.05 * (config["optimizer"] != "adam") - config["dropout"] / 10
        _finish(searcher, f"t{i}", score + 0.01 * (config["architecture"] == "resnet50"), epochs=2)
    if fresh:
        assert max(counts.values()) == 2 and len(counts) >= 25
        optima = [k for k in counts if dict(k)["lr"] == 1e-3 and dict(k)["optimizer"] == "adam" and dict(k)["dropout"] == 0.0]
        assert optima and max(counts[k] for k in optima) == 2  # the optimum was found and confirmed
    else:
        assert max(counts.values()) > 2
