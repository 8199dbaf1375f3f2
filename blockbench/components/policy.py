"""The search-policy contract: decide which targets to train, and pick a block on validation.

The same policy code runs in a real search (the evaluator trains) and in
replay (the evaluator looks runs up in a table). A policy only ever sees
validation accuracy, so it cannot select on test.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from blockbench.core.errors import BlockbenchError, UsageError
from blockbench.core.options import REQUIRED as REQUIRED  # re-exported: plugins declare with it
from blockbench.core.options import check_named_options, complete_options
from blockbench.core.spec import block_target


@dataclass(frozen=True)
class SearchSpace:
    """The blocks a policy chooses among.

    Attributes:
        quarters: quarter (1-4) of each block, by block index.
        trainable_params: trainable parameters of each block.
    """

    quarters: tuple[int, ...]
    trainable_params: tuple[int, ...] = ()

    @property
    def n_blocks(self) -> int:
        return len(self.quarters)

    def targets(self) -> list[str]:
        return [block_target(i) for i in range(self.n_blocks)]

    def in_quarter(self, q: int) -> list[int]:
        return [i for i, quarter in enumerate(self.quarters) if quarter == q]


@dataclass(frozen=True)
class Observation:
    """What a policy learns from one evaluation (never the test accuracy).

    Attributes:
        target: "bl1", "bl2" or "block:i".
        val_acc: validation accuracy, None when the run failed.
        epochs: epochs the run was trained for.
        ok: whether the run succeeded.
        seed: the run seed, when a multi-seed evaluator served it (None: the search's seed).
    """

    target: str
    val_acc: float | None
    epochs: int
    ok: bool
    seed: int | None = None


@dataclass(frozen=True)
class Signal:
    """A cheap per-block score a policy may rank blocks by (see :meth:`Evaluator.signal`).

    Attributes:
        name: what was measured, e.g. "gradient-norm".
        params: the measurement's parameters (part of its identity).
        values: score of each target ("block:i" -> float).
        runs: training runs the measurement cost.
        epochs: training epochs the measurement cost.
        anchor: run hash of the full "block:0" run of the same problem and
            seed, so a stored signal can be matched to its table.
    """

    name: str
    params: Mapping[str, Any]
    values: Mapping[str, float]
    runs: int = 0
    epochs: int = 0
    anchor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params), "values": dict(self.values),
                "runs": self.runs, "epochs": self.epochs, "anchor": self.anchor}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signal:
        return cls(str(data["name"]), dict(data.get("params", {})),
                   {str(k): float(v) for k, v in data["values"].items()},
                   int(data.get("runs", 0)), int(data.get("epochs", 0)), data.get("anchor"))


class SignalUnavailable(BlockbenchError):
    """The evaluator cannot provide the signal a policy asked for (e.g. a table without it)."""


@runtime_checkable
class Evaluator(Protocol):
    """What a policy may ask of the host: everything it may use is declared here.

    The host hands a training evaluator in a real search and a replay
    evaluator in replay; the same policy code runs on both. A policy that
    knows several targets in advance evaluates them with
    :func:`evaluate_batch`, so a host that trains runs at once can.
    """

    @property
    def full_epochs(self) -> int:
        """Epochs of a full run under the protocol (what ``epochs=None`` means)."""
        ...

    def evaluate(self, target: str, *, epochs: int | None = None) -> Observation:
        """Train (or look up) ``target`` for ``epochs`` (None: a full run); never reports test accuracy."""
        ...

    def signal(self, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        """A per-block signal named ``name`` with ``params`` (its identity), at this evaluator's seed.

        A training evaluator calls ``measure(problem, seed, **params)`` once and
        reuses the result; a replay evaluator returns the signal a real search
        stored. Either raises :class:`SignalUnavailable` when it cannot serve it.
        The signal's ``runs`` and ``epochs`` count against the policy's budget.
        """
        ...


@runtime_checkable
class MultiSeedEvaluator(Evaluator, Protocol):
    """The evaluator a multi-seed policy (:attr:`Policy.multi_seed`) gets: (target, seed) pairs.

    Its ``evaluate(target, *, epochs=None, seed=None)`` trains (or looks up)
    ``target`` at run seed ``seed`` (None: ``seeds[0]``). Runs are shared with
    every other policy through the store: a run a multi-seed policy trains is
    the same run a per-seed policy trains at that seed.
    """

    @property
    def seeds(self) -> Sequence[int]:
        """The run seeds the policy may use, in the order it should use them (at most ``--seeds``)."""
        ...

    def report(self, text: str) -> None:
        """Show one line of the search's progress (a racing round, its survivors)."""
        ...


def evaluate_batch(evaluator: Evaluator, targets: Sequence[str], *,
                   epochs: int | None = None, seed: int | None = None) -> list[Observation]:
    """Evaluate ``targets``, whose choice does not depend on each other's results.

    An evaluator that can train several runs at once (``compare --executor
    ray``) offers ``evaluate_many(targets, *, epochs)``, and this calls it: the
    runs train in parallel, and the observations, costs and search record are
    the same as evaluating the targets one by one, in order, which is what
    this does with any other evaluator. Policies call it for every batch they
    know in advance (all blocks, a quarter, a rung of successive halving, a
    racing round). ``seed`` is for a :class:`MultiSeedEvaluator` only.
    """
    extra: dict[str, Any] = {"epochs": epochs} if seed is None else {"epochs": epochs, "seed": seed}
    many = getattr(evaluator, "evaluate_many", None)
    if callable(many):
        return list(many(list(targets), **extra))
    return [evaluator.evaluate(t, **extra) for t in targets]


@dataclass(frozen=True)
class Budget:
    """How much a policy may spend: runs, epochs, or both (None: unlimited)."""

    runs: int | None = None
    epochs: int | None = None


@dataclass
class PolicyResult:
    """A policy's answer.

    Attributes:
        pick: the chosen target (best validation accuracy among what it ran), or None.
        observations: every evaluation, in the order made.
        info: policy-specific details (e.g. the Optuna study name).
    """

    pick: str | None
    observations: list[Observation] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def best_on_validation(observations: list[Observation], full_epochs: int | None = None) -> str | None:
    """The target with the highest validation accuracy; ties go to the earliest evaluated.

    With ``full_epochs``, only runs trained for that many epochs compete, so a
    multi-fidelity policy's short runs never become its pick.
    """
    best: Observation | None = None
    for obs in observations:
        if not obs.ok or obs.val_acc is None:
            continue
        if full_epochs is not None and obs.epochs < full_epochs:
            continue
        if best is None or obs.val_acc > best.val_acc:  # type: ignore[operator]
            best = obs
    return best.target if best else None


def full_epochs_of(evaluator: Evaluator) -> int:
    """Epochs of a full run: ``evaluator.full_epochs``."""
    return int(evaluator.full_epochs)


def run_limit(space: SearchSpace, budget: Budget, full_epochs: int, default: int | None = None) -> int:
    """How many full runs a run-cost policy may evaluate under ``budget``.

    Args:
        space: the search space (its last quarter sets the default).
        budget: runs and/or epochs; each full run costs ``full_epochs`` epochs.
        full_epochs: epochs of one full run.
        default: the limit when the budget sets neither (None: the number of Q4 blocks).
    """
    limits = []
    if budget.runs is not None:
        limits.append(budget.runs)
    if budget.epochs is not None:
        limits.append(budget.epochs // max(full_epochs, 1))
    if not limits:
        limits.append(len(space.in_quarter(4)) if default is None else default)
    return max(0, min(limits))


def check_int(policy: str, name: str, value: Any, minimum: int, allow_none: bool = False) -> int | None:
    """Validate an integer option; the error names the policy, the option and what is valid."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        valid = f"an integer >= {minimum}" + (" or omitted" if allow_none else "")
        raise UsageError(f"option {name}={value!r} of policy {policy} is not valid; use {valid}")
    return value


class Policy(abc.ABC):
    """Chooses which blocks to train, under a budget.

    Lifecycle:
        1. The registered *factory* is the policy class (or any callable)
           taking the user's options as keyword arguments. Before calling it,
           the host checks the options of a Policy subclass with
           :meth:`check_options`, so errors name the policy's registered name.
        2. The factory is called once per search, so a policy may keep state;
           ``__init__`` stores the checked, completed options in ``self.options``.
        3. :meth:`search` is called with the search space, an evaluator and a
           budget; it calls ``evaluator.evaluate(target)`` as often as it
           likes within the budget and returns a :class:`PolicyResult` whose
           pick is chosen on validation accuracy only.

    A *multi-seed* policy (``multi_seed = True``, e.g. racing) searches across
    seeds: the host calls :meth:`search` once per table (not once per seed)
    with a :class:`MultiSeedEvaluator` over the compare's seeds, ``seed`` being
    the first of them (for the policy's own randomness), and its budget
    counts the runs of every seed. Its pick is one target for every seed.

    Attributes:
        option_defaults: accepted options and their defaults;
            :data:`~blockbench.core.options.REQUIRED` marks one the user must give.
        cost_unit: "runs" or "epochs" (multi-fidelity policies).
        multi_seed: whether :meth:`search` gets a :class:`MultiSeedEvaluator` (see above).
    """

    option_defaults: ClassVar[Mapping[str, Any]] = {}
    cost_unit: ClassVar[str] = "runs"
    multi_seed: ClassVar[bool] = False

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = self.check_options(options)

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate options and return them completed with defaults (a classmethod: the class
        is the factory, and the host checks before constructing)."""
        return complete_options(options, cls.option_defaults, "policy")

    @abc.abstractmethod
    def search(
        self, space: SearchSpace, evaluator: Evaluator, budget: Budget, seed: int
    ) -> PolicyResult:
        """Run the search and return the pick."""

    def planned_evaluations(self, space: SearchSpace, budget: Budget, full_epochs: int) -> int | None:
        """How many times :meth:`search` will call ``evaluator.evaluate``, if known before it starts.

        Progress displays use it for their totals (a run reused from the cache
        counts too). None, the default: the policy cannot tell, and the host
        assumes the most its budget allows. A policy may make fewer evaluations
        than it planned when runs fail, never more.
        """
        return None


PolicyFactory = Any  # a Policy subclass or a callable returning a Policy


def check_policy_options(name: str, factory: PolicyFactory, options: Mapping[str, Any]) -> None:
    """Check a policy's options before constructing it; errors name its registered ``name``.

    A factory that is not a :class:`Policy` subclass (any callable) checks its
    options when called.
    """
    if isinstance(factory, type) and issubclass(factory, Policy):
        check_named_options(factory, options, "policy", name)
