"""The typed contracts between the search's modules and processes: the run plan, one trial's
config, and one epoch's report.

Both are frozen pydantic models (``extra="forbid"``) with a ``schema_version``. A change makes
a new object (:meth:`Plan.evolve`), so no module edits another's plan in place. The plan is
``RUN_DIR/run.json``; a ``run.json`` of another schema is refused in one line by
``tuner.search.plan._plan.load_plan``. A trial's config crosses into the Ray Train worker as JSON
and is validated again there (:meth:`TrialConfig.model_validate`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tuner._params import PARAM_DEFAULTS, ParamValue
from tuner.search.space._space import SearchSpace

__all__ = ["PLAN_SCHEMA", "TRIAL_SCHEMA", "ClusterShape", "EpochReport", "Plan", "TrialConfig"]

#: The run.json schema this tuner writes and reads.
PLAN_SCHEMA: Literal[2] = 2  # 2: search/ in sub-packages (Tune's pickled state names their modules)
#: The trial config schema (worker and driver of one version always agree; checked anyway).
TRIAL_SCHEMA: Literal[1] = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClusterShape(_Frozen):
    """What the search's cluster held when the run started."""

    cpus: float
    gpus: float


class Plan(_Frozen):
    """Everything a search needs, resolved before any trial starts (``RUN_DIR/run.json``).

    Built by ``tuner.search.plan._plan.build_plan``; resources by ``size_resources``; weights,
    grouping files and the common label space by the driver before the first trial.
    """

    schema_version: Literal[2] = PLAN_SCHEMA
    tuner_version: str
    name: str
    space_source: str
    space: SearchSpace
    demo: bool = False
    kind: Literal["finetune", "scratch"]
    metric: str
    mode: Literal["max", "min"]
    architectures: tuple[str, ...]
    # the dataset
    data_dir: str
    class_name_pattern: str | None = None
    split_seed: int = 0
    identity: str
    class_names: tuple[str, ...]
    train_images: int
    validation_images: int
    test_images: int
    working_size: int
    cache_dir: str | None = None
    # weights: the --weights policy, then what each architecture uses (imagenet | none | a file)
    weights_policy: str = "auto"
    weights: dict[str, str] = {}
    # groupings: candidate label -> grouping file; auto:K candidates -> K until resolved
    grouping_candidates: tuple[str, ...] = ("none",)
    grouping_files: dict[str, str] = {}
    auto_groupings: dict[str, int] = {}
    dropped_groupings: tuple[str, ...] = ()
    needs_probe: bool = False
    groupings_from: str | None = None
    common_grouping_file: str | None = None
    # budget
    seed: int = 0
    # resources (None until size_resources)
    gpus_per_trial: float | None = None
    cpus_per_trial: float | None = None
    max_concurrent: int | None = None
    cluster: ClusterShape | None = None
    worker_retries: int = 2  # restarts of a crashed trial process, from its last checkpoint
    #: How a trial runs: ``auto`` is warm (in Tune's reused trial actor) for one device or
    #: less, Ray Train for 2+ GPUs; ``warm`` / ``train`` force one (tests, benchmarks).
    runner: Literal["auto", "warm", "train"] = "auto"
    mixed_precision: Literal["auto", "on", "off"] = "auto"
    # guards
    stall_timeout: float | None = None
    max_consecutive_failures: int = 5
    # where things go
    test_top: int = 3
    mlflow_uri: str | None = None
    remote: str | None = None
    train_storage: str | None = None
    started: str
    ended: str | None = None

    # The budget lives in ``space.budget`` only (CLI overrides are applied to the space): these
    # read it, so no stage can change one copy and not the other.
    @property
    def num_samples(self) -> int:
        return self.space.budget.num_samples

    @property
    def max_epochs(self) -> int:
        return self.space.budget.max_epochs

    @property
    def grace_period(self) -> int:
        return min(self.space.budget.grace_period, self.space.budget.max_epochs)

    @property
    def reduction_factor(self) -> float:
        return self.space.budget.reduction_factor

    @property
    def patience(self) -> int | None:
        return self.space.budget.patience

    @property
    def sampler(self) -> str:
        return self.space.budget.sampler

    @property
    def probe_samples(self) -> int:
        return self.space.budget.probe_samples

    @property
    def probe_epochs(self) -> int:
        return self.space.budget.probe_epochs

    def evolve(self, **changes: Any) -> Plan:
        """This plan with ``changes``, validated again."""
        return type(self).model_validate({**dict(self), **changes})


class TrialConfig(_Frozen):
    """One trial's config: the sampled parameters plus what the worker needs from the plan."""

    schema_version: Literal[1] = TRIAL_SCHEMA
    #: The sampled parameters by name (``architecture`` and ``tuner._params``' names).
    params: dict[str, ParamValue]
    data_dir: str
    class_name_pattern: str | None = None
    split_seed: int = 0
    identity: str
    working_size: int
    cache_dir: str | None = None
    kind: Literal["finetune", "scratch"] = "finetune"
    weights: str = "none"
    grouping_file: str | None = None
    common_grouping_file: str | None = None
    max_epochs: int
    patience: int | None = None
    metric: str = "val_accuracy_common"
    mode: Literal["max", "min"] = "max"
    seed: int = 0
    mixed_precision: Literal["auto", "on", "off"] = "auto"
    cpus: float | None = None
    #: Test-split scoring: ``best`` at each new best epoch (top rows), ``every`` epoch (tables).
    score_test: Literal["none", "best", "every"] = "none"

    def param(self, name: str) -> Any:
        """A sampled parameter, or its registry default when the trial did not sample it."""
        value = self.params.get(name)
        return PARAM_DEFAULTS[name] if value is None else value


class EpochReport(_Frozen):
    """One epoch of one trial, as its training process reports it: built (and so checked) in
    the worker, sent to Tune as :meth:`result`, read back from Tune's results, the epoch
    journal and ``result.json`` with :meth:`from_result` (which drops Tune's own keys).

    A field absent from :meth:`result` is unknown, not zero: a NaN first epoch has no
    ``objective``, so ASHA and the searcher skip it. ``epoch`` 0: the trial failed before its
    first epoch. Adding a field to the report is one line here (and the code that sets it).
    """

    epoch: int
    loss: float | None = None
    accuracy: float | None = None
    learning_rate: float | None = None  # of the head, this epoch
    val_accuracy: float | None = None
    val_accuracy_common: float | None = None
    val_loss: float | None = None
    balanced_accuracy: float | None = None
    macro_f1: float | None = None
    test_accuracy: float | None = None
    test_accuracy_common: float | None = None
    objective: float | None = None  # the best value of the metric so far
    best_epoch: int | None = None
    n_classes: int | None = None
    images_per_second: float | None = None
    setup_seconds: float | None = None
    train_seconds: float | None = None
    trainable_params: int | None = None
    total_params: int | None = None
    weights_used: str | None = None
    gpus: float | None = None
    node: str | None = None
    pid: int | None = None  # the training process (a warm one trains many trials)
    time: float | None = None  # wall clock at the epoch's end
    epoch_start: float | None = None  # and at its start
    memory_mb: float | None = None
    finished: bool = False
    failure_reason: str = ""  # why the trial failed (nan_loss, out_of_memory: ..., a user error)
    fatal: bool = False  # the failure fails every trial alike (a user error): the search stops
    replayed: bool = False  # a resumed trial saying its checkpoint's epoch again
    checkpoint_path: str | None = None  # set by the trial actor when it stores the checkpoint

    def result(self) -> dict[str, Any]:
        """The report as Tune's result (a dict; unknown values left out)."""
        return self.model_dump(exclude_none=True)

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> EpochReport:
        """The report in a Tune result or a journal line (Tune's own keys dropped).

        Raises:
            pydantic.ValidationError: not a report (a damaged line, say).
        """
        return cls.model_validate({k: v for k, v in result.items() if k in _REPORT_FIELDS})

    def with_(self, **changes: Any) -> EpochReport:
        return self.model_validate({**self.model_dump(), **changes})


#: EpochReport's field names: pydantic's ``model_fields`` is a property costing ~0.5 us a
#: lookup, and each leaderboard rewrite checks every key of every line of every journal.
_REPORT_FIELDS = frozenset(EpochReport.model_fields)
