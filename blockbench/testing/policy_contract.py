"""``PolicyContract``: the checks every block-selection policy must pass."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from blockbench.components.partition import quarter_of
from blockbench.components.policy import Budget, Policy, PolicyResult, SearchSpace
from blockbench.core.errors import UsageError
from blockbench.testing.fakes import (
    FakeEvaluator,
    MultiSeedFakeEvaluator,
    landscapes,
    reversed_test,
)
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

    A *multi-seed* policy (``multi_seed = True`` on the factory) is checked
    through a :class:`~blockbench.testing.fakes.MultiSeedFakeEvaluator` over
    ``seeds``: every seed's runs count against the budget, it may only use the
    seeds offered, its observations are the evaluator's (with their seeds), and its pick must have
    the best mean validation accuracy among the targets it evaluated at the
    most seeds (the reference arm, ``reference_targets``, is known to the
    evaluator but never a pick). Per-seed policies are checked as before.

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
        multi_seed: check as a multi-seed policy (None: the factory's ``multi_seed``).
        seeds: the seeds a multi-seed policy's evaluator offers.
        seed_effect: sd of the per-seed shift shared by all targets (multi-seed only).
        seed_noise: sd of each (target, seed) deviation (multi-seed only).
        reference_targets: targets a multi-seed policy may race but never pick.
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
    multi_seed: ClassVar[bool | None] = None
    seeds: ClassVar[Sequence[int]] = (0, 1, 2, 3, 4, 5)
    seed_effect: ClassVar[float] = 0.02
    seed_noise: ClassVar[float] = 0.003
    reference_targets: ClassVar[Sequence[str]] = ("bl1",)

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
        if getattr(policy_factory, "multi_seed", False) or cls.multi_seed:
            # a budget for several full rounds (every block and the reference, per seed) too
            return [Budget(runs=3), Budget(runs=8), Budget(runs=4 * (cls.n_blocks + 1))]
        if getattr(policy_factory(**cls.options), "cost_unit", "runs") == "epochs":
            return [Budget(epochs=3 * cls.full_epochs), Budget(epochs=8 * cls.full_epochs)]
        return [Budget(runs=3), Budget(runs=8)]

    def space(self) -> SearchSpace:
        n = self.n_blocks
        return SearchSpace(tuple(quarter_of(i, n) for i in range(n)),
                           tuple(1000 * (1 + i % 5) for i in range(n)))

    def is_multi_seed(self) -> bool:
        if self.multi_seed is not None:
            return self.multi_seed
        return bool(getattr(self.factory, "multi_seed", False))

    def evaluator(self, profile: str, failing: Sequence[str] = ()) -> FakeEvaluator:
        values = landscapes(self.n_blocks, self.seed)[profile]
        multi = self.is_multi_seed()
        extra = [*self.extra_targets, *(t for t in self.reference_targets
                                        if multi and t not in self.extra_targets)]
        targets = [*self.space().targets(), *extra]
        val = {t: values[i % len(values)] - 0.0001 * (i // len(values))
               for i, t in enumerate(targets)}
        if multi:
            return MultiSeedFakeEvaluator(val, reversed_test(val), seeds=self.seeds,
                                          seed_effect=self.seed_effect, noise=self.seed_noise,
                                          rng_seed=self.seed, full_epochs=self.full_epochs,
                                          failing=failing)
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
            if isinstance(evaluator, MultiSeedFakeEvaluator):
                self._check_multi_seed_pick(evaluator, result, f"{profile}, {budget}")
                continue
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

    def _check_multi_seed_pick(self, evaluator: MultiSeedFakeEvaluator, result: PolicyResult,
                               where: str) -> None:
        counts: dict[str, int] = {}
        for o in evaluator.log:
            if o.ok and o.epochs >= self.full_epochs and o.target not in self.reference_targets:
                counts[o.target] = counts.get(o.target, 0) + 1
        assert counts, f"{where}: no successful full run of a candidate"
        most = max(counts.values())
        finalists = [t for t, n in counts.items() if n == most]
        best = max(evaluator.mean_val(t) for t in finalists)
        allowed = sorted(t for t in finalists if evaluator.mean_val(t) == best)
        by_test = max(finalists, key=evaluator.test_accuracies.__getitem__)
        hint = " (the best on test: selection must use validation only)" \
            if result.pick == by_test else ""
        assert result.pick in allowed, (
            f"{where}: picked {result.pick!r}{hint}; the best mean validation accuracy among "
            f"the targets evaluated at the most seeds ({most}) is {allowed}"
        )

    def test_budget_is_respected(self, policy_factory: Any, search_budgets: list[Budget]) -> None:
        for budget in search_budgets:
            evaluator = self.evaluator("shuffled")
            self.search(policy_factory, evaluator, budget)
            if budget.runs is not None:
                assert len(evaluator.calls) <= budget.runs, (
                    f"{len(evaluator.calls)} evaluations under a budget of {budget.runs} runs"
                    + (" (every seed's runs count)" if self.is_multi_seed() else "")
                )
            if isinstance(evaluator, MultiSeedFakeEvaluator):
                assert not evaluator.bad_seeds, (
                    f"evaluated at seeds {sorted(set(evaluator.bad_seeds))}, which the evaluator "
                    f"does not offer (it offers {list(evaluator.seeds)})"
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
            if self.is_multi_seed():  # how many rounds a race lasts depends on what it sees
                assert len(evaluator.calls) <= planned, (
                    f"planned_evaluations() said at most {planned} under {budget}, search() made "
                    f"{len(evaluator.calls)}"
                )
                continue
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
