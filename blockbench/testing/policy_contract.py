"""``PolicyContract``: the checks every block-selection policy must pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from blockbench.components.partition import quarter_of
from blockbench.components.policy import Budget, Policy, PolicyResult, SearchSpace
from blockbench.core.errors import UsageError
from blockbench.testing.fakes import FakeEvaluator, landscapes, reversed_test
from blockbench.testing.probe import check_registration

UNKNOWN_OPTION = "no_such_option_xyz"


class PolicyContract:
    """Subclass as ``class TestMyPolicy(PolicyContract)`` to check a search policy.

    Set ``factory = MyPolicy`` (the registered factory: a Policy subclass or a
    callable taking options as keywords). The policy searches a fake space of
    ``n_blocks`` blocks whose evaluator looks accuracies up in tables
    (:class:`~blockbench.testing.FakeEvaluator`): validation accuracies follow
    several known profiles, and test accuracies are ranked the opposite way, so
    a policy that picks on test is caught.

    Attributes:
        factory: the policy factory under test.
        options: options passed to the factory.
        n_blocks: size of the fake search space.
        budgets: budgets to search under; None means 3 and 8 runs (or as many
            full-run epochs when the policy's ``cost_unit`` is "epochs").
        seed: the search seed.
        full_epochs: epochs of a full run in the fake evaluator.
        extra_targets: targets besides the blocks the policy may evaluate (e.g. "bl2").
        plugin_module: the module your entry point names; None means the factory's module.
        registered_name: the name the plugin registers the factory under (checked if set).
    """

    factory: ClassVar[Any] = None
    options: ClassVar[Mapping[str, Any]] = {}
    n_blocks: ClassVar[int] = 12
    budgets: ClassVar[Sequence[Budget] | None] = None
    seed: ClassVar[int] = 0
    full_epochs: ClassVar[int] = 10
    extra_targets: ClassVar[Sequence[str]] = ()
    plugin_module: ClassVar[str | None] = None
    registered_name: ClassVar[str | None] = None

    @pytest.fixture(scope="class")
    @classmethod
    def policy_factory(cls) -> Any:
        if cls.factory is None:
            pytest.fail(f"{cls.__name__}: set `factory = YourPolicy` "
                        "or override the policy_factory fixture", pytrace=False)
        return cls.factory

    @pytest.fixture(scope="class")
    @classmethod
    def search_budgets(cls, policy_factory: Any) -> list[Budget]:
        if cls.budgets is not None:
            return list(cls.budgets)
        if getattr(policy_factory(**cls.options), "cost_unit", "runs") == "epochs":
            return [Budget(epochs=3 * cls.full_epochs), Budget(epochs=8 * cls.full_epochs)]
        return [Budget(runs=3), Budget(runs=8)]

    def space(self) -> SearchSpace:
        n = self.n_blocks
        return SearchSpace(tuple(quarter_of(i, n) for i in range(n)),
                           tuple(1000 * (1 + i % 5) for i in range(n)))

    def evaluator(self, profile: str, failing: Sequence[str] = ()) -> FakeEvaluator:
        values = landscapes(self.n_blocks, self.seed)[profile]
        targets = [*self.space().targets(), *self.extra_targets]
        val = {t: values[i % len(values)] - 0.0001 * (i // len(values))
               for i, t in enumerate(targets)}
        return FakeEvaluator(val, reversed_test(val), full_epochs=self.full_epochs,
                             failing=failing)

    def search(self, factory: Any, evaluator: FakeEvaluator, budget: Budget) -> PolicyResult:
        policy: Policy = factory(**self.options)
        return policy.search(self.space(), evaluator, budget, self.seed)

    def test_factory_makes_a_policy(self, policy_factory: Any) -> None:
        policy = policy_factory(**self.options)
        assert isinstance(policy, Policy), f"the factory made {policy!r}, not a Policy"
        assert policy.cost_unit in ("runs", "epochs"), f"cost_unit {policy.cost_unit!r}"

    def test_unknown_option_is_a_usage_error(self, policy_factory: Any) -> None:
        with pytest.raises(UsageError, match=UNKNOWN_OPTION):
            policy_factory(**self.options, **{UNKNOWN_OPTION: 1})

    def test_registration_is_cheap_and_tensorflow_free(self, policy_factory: Any) -> None:
        check_registration("policy", policy_factory, self.plugin_module, self.registered_name)

    @pytest.mark.parametrize("profile", ["rising", "falling", "peaked", "shuffled"])
    def test_pick_is_best_on_validation(self, policy_factory: Any, search_budgets: list[Budget],
                                        profile: str) -> None:
        for budget in search_budgets:
            evaluator = self.evaluator(profile)
            result = self.search(policy_factory, evaluator, budget)
            assert isinstance(result, PolicyResult), f"search() returned {type(result)}"
            done = [o for o in evaluator.log if o.ok and o.val_acc is not None]
            assert done, f"no successful evaluation under {budget}"
            full = [o for o in done if o.epochs >= self.full_epochs] or done
            best = max(o.val_acc for o in full)  # type: ignore[type-var]
            allowed = {o.target for o in full if o.val_acc == best}
            by_test = max({o.target for o in full}, key=evaluator.test_accuracies.__getitem__)
            hint = " (the best on test: selection must use validation only)" \
                if result.pick == by_test else ""
            assert result.pick in allowed, (
                f"{profile}, {budget}: picked {result.pick!r}{hint}; the best validation "
                f"accuracy among the runs it made is {sorted(allowed)}"
            )

    def test_budget_is_respected(self, policy_factory: Any, search_budgets: list[Budget]) -> None:
        for budget in search_budgets:
            evaluator = self.evaluator("shuffled")
            self.search(policy_factory, evaluator, budget)
            if budget.runs is not None:
                assert len(evaluator.calls) <= budget.runs, (
                    f"{len(evaluator.calls)} evaluations under a budget of {budget.runs} runs"
                )
            if budget.epochs is not None:
                assert evaluator.epochs_spent <= budget.epochs, (
                    f"{evaluator.epochs_spent} epochs under a budget of {budget.epochs} epochs"
                )

    def test_planned_evaluations_are_the_evaluations_made(self, policy_factory: Any,
                                                          search_budgets: list[Budget]) -> None:
        for budget in [*search_budgets, Budget()]:
            plan = getattr(policy_factory(**self.options), "planned_evaluations", None)
            planned = plan(self.space(), budget, self.full_epochs) if callable(plan) else None
            if planned is None:  # the policy cannot tell in advance: nothing to hold it to
                continue
            evaluator = self.evaluator("shuffled")
            self.search(policy_factory, evaluator, budget)
            assert len(evaluator.calls) == planned, (
                f"planned_evaluations() said {planned} under {budget}, search() made "
                f"{len(evaluator.calls)}: progress totals would be wrong"
            )

    def test_only_known_targets_are_evaluated(self, policy_factory: Any,
                                              search_budgets: list[Budget]) -> None:
        for budget in search_budgets:
            evaluator = self.evaluator("peaked")
            result = self.search(policy_factory, evaluator, budget)
            assert not evaluator.unknown, (
                f"evaluated targets outside the search space: {sorted(set(evaluator.unknown))}"
            )
            assert result.pick is None or result.pick in {t for t, _ in evaluator.calls}, (
                f"picked {result.pick!r}, which it never evaluated"
            )

    def test_observations_are_reported_in_order(self, policy_factory: Any,
                                                search_budgets: list[Budget]) -> None:
        evaluator = self.evaluator("shuffled")
        result = self.search(policy_factory, evaluator, search_budgets[-1])
        assert list(result.observations) == evaluator.log, (
            "PolicyResult.observations must be every evaluation, in the order made"
        )

    def test_is_deterministic_for_a_fixed_seed(self, policy_factory: Any,
                                               search_budgets: list[Budget]) -> None:
        runs = []
        for _ in range(2):
            evaluator = self.evaluator("shuffled")
            result = self.search(policy_factory, evaluator, search_budgets[-1])
            runs.append((evaluator.calls, result.pick))
        assert runs[0] == runs[1], (
            f"two searches with seed {self.seed} differ: {runs[0]} vs {runs[1]}"
        )

    def test_failed_runs_are_never_picked(self, policy_factory: Any,
                                          search_budgets: list[Budget]) -> None:
        budget = search_budgets[-1]
        probe = self.evaluator("shuffled")
        self.search(policy_factory, probe, budget)
        ranked = sorted({o.target for o in probe.log if o.ok},
                        key=probe.val_accuracies.__getitem__, reverse=True)
        if not ranked:
            pytest.fail(f"no successful evaluation under {budget}")
        evaluator = self.evaluator("shuffled", failing=ranked[:1])
        result = self.search(policy_factory, evaluator, budget)
        assert result.pick != ranked[0], f"picked {ranked[0]!r}, whose run failed"
