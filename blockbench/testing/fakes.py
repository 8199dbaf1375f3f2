"""Test doubles for plugin tests: an evaluator with known accuracies, a tiny model, entry points."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from blockbench.components.policy import Observation, Signal, SignalUnavailable
from blockbench.plugin import manager as plugins

if TYPE_CHECKING:
    import keras
    import pytest


class FakeEvaluator:
    """An evaluator that looks accuracies up in tables instead of training.

    It also holds *test* accuracies, ranked opposite to the validation ones, as
    a replay table would: a policy that selects on test picks differently from
    one that selects on validation, and the contract suite notices.

    It implements the whole :class:`~blockbench.components.policy.Evaluator`
    protocol: ``signal`` serves the signals it was given, as a replay table
    serves stored ones, and raises ``SignalUnavailable`` for any other.

    Args:
        val: full-training validation accuracy of each known target.
        test: test accuracy of each known target.
        full_epochs: epochs of a full run (what ``epochs=None`` means).
        failing: targets whose runs fail (``ok=False``, no accuracy).
        signals: the signals it serves, by name (whatever the parameters asked for).

    Attributes:
        calls: every ``(target, epochs)`` requested, in order.
        log: every observation returned, in order.
        unknown: requested targets that are not in ``val``.
        signal_requests: every ``(name, params)`` asked of :meth:`signal`, in order.
        test_accuracies: the test table (a policy must never read it).
    """

    def __init__(self, val: Mapping[str, float], test: Mapping[str, float], *,
                 full_epochs: int = 10, failing: Iterable[str] = (),
                 signals: Mapping[str, Signal] | None = None) -> None:
        self.val_accuracies = dict(val)
        self.test_accuracies = dict(test)
        self.full_epochs = full_epochs
        self.failing = set(failing)
        self.signals = dict(signals or {})
        self.calls: list[tuple[str, int]] = []
        self.log: list[Observation] = []
        self.unknown: list[str] = []
        self.signal_requests: list[tuple[str, dict[str, Any]]] = []

    def evaluate(self, target: str, *, epochs: int | None = None) -> Observation:
        """Return the tabled validation accuracy; shorter runs score proportionally lower."""
        n = self.full_epochs if epochs is None else int(epochs)
        self.calls.append((target, n))
        if target not in self.val_accuracies:
            self.unknown.append(target)
            obs = Observation(target, None, n, False)
        elif target in self.failing:
            obs = Observation(target, None, n, False)
        else:
            fraction = min(max(n, 0), self.full_epochs) / self.full_epochs
            obs = Observation(target, self.val_accuracies[target] * (0.6 + 0.4 * fraction), n, True)
        self.log.append(obs)
        return obs

    def signal(self, name: str, measure: Callable[..., Signal], **params: Any) -> Signal:
        """The signal given for ``name`` (``measure`` is never called: nothing trains here)."""
        self.signal_requests.append((name, params))
        if name not in self.signals:
            given = ", ".join(sorted(self.signals)) or "none"
            raise SignalUnavailable(f"this FakeEvaluator serves no {name!r} signal (given: {given}); "
                                    "pass signals={name: Signal(...)}")
        return self.signals[name]

    @property
    def epochs_spent(self) -> int:
        return sum(n for _, n in self.calls)


class MultiSeedFakeEvaluator(FakeEvaluator):
    """A :class:`~blockbench.components.policy.MultiSeedEvaluator` over tables, one value per seed.

    A target's validation accuracy at a seed is its tabled mean plus the seed's
    shared effect (``seed_effect``: the sd of a shift common to every target at
    that seed) plus its own deviation (``noise``: the sd of an independent
    normal deviation per target and seed), drawn once from ``rng_seed``; or,
    with ``table``, exactly ``table[seed][target]``. Test accuracies stay one
    value per target (the mean), ranked as the caller gives them.

    Args:
        val: mean validation accuracy of each known target.
        test: test accuracy of each known target.
        seeds: the run seeds it offers, in order.
        seed_effect: sd of the per-seed shift shared by all targets.
        noise: sd of the per-(target, seed) deviation.
        rng_seed: seed of the draws.
        table: explicit per-seed values (overrides the draws where given).
        full_epochs, failing, signals: as for :class:`FakeEvaluator` (a failing target fails at every seed).

    Attributes:
        seed_calls: every ``(target, epochs, seed)`` requested, in order (``calls`` keeps
            ``(target, epochs)``, so the per-seed checks apply unchanged).
        bad_seeds: requested seeds it does not offer.
        reports: every line passed to :meth:`report`.
    """

    def __init__(self, val: Mapping[str, float], test: Mapping[str, float], *,
                 seeds: Iterable[int] = (0, 1, 2, 3, 4), seed_effect: float = 0.0,
                 noise: float = 0.0, rng_seed: int = 0,
                 table: Mapping[int, Mapping[str, float]] | None = None, full_epochs: int = 10,
                 failing: Iterable[str] = (), signals: Mapping[str, Signal] | None = None) -> None:
        import numpy as np

        super().__init__(val, test, full_epochs=full_epochs, failing=failing, signals=signals)
        self._seeds = tuple(seeds)
        rng = np.random.default_rng(rng_seed)
        targets = sorted(self.val_accuracies)
        shifts = rng.normal(0.0, seed_effect, len(self._seeds)) if seed_effect else \
            np.zeros(len(self._seeds))
        deviations = rng.normal(0.0, noise, (len(self._seeds), len(targets))) if noise else \
            np.zeros((len(self._seeds), len(targets)))
        self.per_seed: dict[int, dict[str, float]] = {
            s: {t: float(self.val_accuracies[t] + shifts[i] + deviations[i, j])
                for j, t in enumerate(targets)} for i, s in enumerate(self._seeds)}
        for s, values in (table or {}).items():
            self.per_seed.setdefault(s, {}).update({t: float(v) for t, v in values.items()})
        self.seed_calls: list[tuple[str, int, int]] = []
        self.bad_seeds: list[int] = []
        self.reports: list[str] = []

    @property
    def seeds(self) -> tuple[int, ...]:
        return self._seeds

    def report(self, text: str) -> None:
        self.reports.append(text)

    def evaluate(self, target: str, *, epochs: int | None = None,  # type: ignore[override]
                 seed: int | None = None) -> Observation:
        """The tabled value at ``seed`` (None: the first seed); short runs score lower."""
        s = self._seeds[0] if seed is None else seed
        n = self.full_epochs if epochs is None else int(epochs)
        self.calls.append((target, n))
        self.seed_calls.append((target, n, s))
        known = target in self.val_accuracies and target in self.per_seed.get(s, {})
        if s not in self._seeds:
            self.bad_seeds.append(s)
        if not known or s not in self._seeds or target in self.failing:
            if target not in self.val_accuracies:
                self.unknown.append(target)
            obs = Observation(target, None, n, False, s)
        else:
            fraction = min(max(n, 0), self.full_epochs) / self.full_epochs
            obs = Observation(target, self.per_seed[s][target] * (0.6 + 0.4 * fraction), n, True, s)
        self.log.append(obs)
        return obs

    def mean_val(self, target: str) -> float:
        """Mean validation accuracy of ``target``'s successful full runs so far (NaN: none)."""
        values = [o.val_acc for o in self.log if o.target == target and o.ok
                  and o.val_acc is not None and o.epochs >= self.full_epochs]
        return sum(values) / len(values) if values else float("nan")


def landscapes(n_blocks: int, seed: int = 0) -> dict[str, list[float]]:
    """Named validation-accuracy profiles over ``n_blocks`` blocks, all values distinct.

    "rising" peaks at the last block, "falling" at the first, "peaked" in the
    middle, "shuffled" at a seeded random block.
    """
    import numpy as np

    base = np.linspace(0.35, 0.9, n_blocks) if n_blocks > 1 else np.array([0.6])
    peak = n_blocks // 2
    peaked = [0.9 - 0.5 * abs(i - peak) / max(n_blocks, 1) - 0.001 * i for i in range(n_blocks)]
    shuffled = np.random.default_rng(seed).permutation(base)
    return {
        "rising": [float(v) for v in base],
        "falling": [float(v) for v in base[::-1]],
        "peaked": [float(v) for v in peaked],
        "shuffled": [float(v) for v in shuffled],
    }


def reversed_test(val: Mapping[str, float]) -> dict[str, float]:
    """Test accuracies ranked exactly opposite to ``val`` (the best on val is worst on test)."""
    ranked = sorted(val, key=val.__getitem__)
    values = sorted(val.values(), reverse=True)
    return dict(zip(ranked, values, strict=True))


def tiny_backbone(input_size: int = 32) -> keras.Model:
    """A small named functional CNN shaped like a real backbone (17 layers, residual Add).

    It has layers without weights before the first weighted layer, BatchNorm,
    depthwise convolution, a residual connection and pooling, so partition
    strategies meet the same cases as on real backbones, in milliseconds.
    """
    import keras

    layers = keras.layers
    inputs = keras.Input((input_size, input_size, 3), name="input")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = layers.BatchNormalization(name="stem_bn")(x)
    shortcut = x = layers.ReLU(name="stem_relu")(x)
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="b1_dw")(x)
    x = layers.BatchNormalization(name="b1_dw_bn")(x)
    x = layers.ReLU(name="b1_dw_relu")(x)
    x = layers.Conv2D(8, 1, use_bias=False, name="b1_pw")(x)
    x = layers.BatchNormalization(name="b1_pw_bn")(x)
    x = layers.Add(name="b1_add")([shortcut, x])
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="b2_conv")(x)
    x = layers.BatchNormalization(name="b2_bn")(x)
    x = layers.ReLU(name="b2_relu")(x)
    x = layers.MaxPooling2D(name="b2_pool")(x)
    x = layers.Conv2D(16, 1, name="top_conv")(x)
    x = layers.ReLU(name="top_relu")(x)
    return keras.Model(inputs, x, name="tiny_backbone")


@dataclass
class FakeEntryPoint:
    """Stands in for an ``importlib.metadata.EntryPoint`` of group ``blockbench``.

    Args:
        name: the entry point's name.
        target: what ``load()`` returns (a plugin module or namespace), or an
            exception instance that ``load()`` raises (an import failure).
        distribution: the distribution that declares it ("blockbench" marks a built-in).
    """

    name: str
    target: Any
    distribution: str = "fake-plugin"
    group: str = "blockbench"
    value: str = field(default="")

    def __post_init__(self) -> None:
        self.value = self.value or f"{self.distribution.replace('-', '_')}:{self.name}"
        self.dist = SimpleNamespace(name=self.distribution)

    def load(self) -> Any:
        if isinstance(self.target, BaseException):
            raise self.target
        return self.target


def use_entry_points(monkeypatch: pytest.MonkeyPatch, extra: Iterable[Any], *,
                     keep_installed: bool = True) -> None:
    """Make the plugin host see ``extra`` entry points (plus the installed ones) until the test ends.

    Call :func:`blockbench.plugin.manager.reset` (or use a fixture that does) before
    loading components again.
    """
    from importlib import metadata

    extra = list(extra)

    def entry_points(*, group: str) -> list[Any]:
        found = list(metadata.entry_points(group=group)) if keep_installed else []
        return [*found, *(ep for ep in extra if ep.group == group)]

    monkeypatch.setattr(plugins, "metadata", SimpleNamespace(entry_points=entry_points))
    plugins.reset()
