"""Seeds and test examples as crossed random effects: paired verdicts and accuracy intervals.

Two methods scored at the same seeds on the same test examples give outcomes
``a[s, e], b[s, e]`` in {0, 1}. Their paired differences ``d = a - b`` follow

    d[s, e] = mu + seed[s] + example[e] + residual[s, e]

with independent zero-mean effects, so ``Var(mean d) = σ²_seed/S + σ²_example/E
+ σ²_residual/(S·E)``. The two-way ANOVA mean squares estimate it without bias:
``(MS_seed + MS_example - MS_residual) / (S·E)``, with Satterthwaite degrees of
freedom. Decisions use the t quantile at those df. Differences are tested and
bounded on the atanh scale (the interval stays inside [-1, 1]); accuracies on
the logit scale (inside [0, 1]). ``docs/statistics.md`` states the model, the
fallbacks and the references.

Everything works on integers: per-example outcomes, or hit counts
``k = round(acc · n)`` when a record has no per-example outcomes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from blockbench.stats.inference import ALPHA, LOSS, WIN, WITHIN_NOISE

UNKNOWN_ONE = "unknown (1 seed)"
UNKNOWN_NONE = "unknown (no shared seed)"
CROSSED = "crossed seed x example"
SEED_T = "seed-level t"
SEED_T_NOTE = "seed-level t: no per-example outcomes, test-set noise not counted"
#: Fewest seeds with which Hedges' g_z is shown (below, its interval is too wide to mean anything).
G_MIN_SEEDS = 5


@dataclass(frozen=True)
class Evidence:
    """One method's test result at one seed.

    Attributes:
        hits: correct test examples (a mean of counts for a pick averaged over policy seeds).
        n: test examples.
        correct: per-example outcomes (bool, length n), None for records without them.
    """

    hits: float
    n: int
    correct: np.ndarray | None = None


@dataclass(frozen=True)
class PairedResult:
    """Method A against method B over their shared seeds.

    Attributes:
        n_seeds, n_examples: shared seeds, and test examples per seed (0 when unknown).
        diff: mean accuracy difference A - B.
        ci_low, ci_high: its confidence interval, inside [-1, 1].
        df: degrees of freedom of the t quantile.
        p: two-sided p-value of the same test (None without one).
        verdict: "win", "loss", "within noise", or "unknown (...)".
        method: the estimator (crossed seed x example, or seed-level t).
        note: what the reader should know (fallbacks, floors).
    """

    n_seeds: int
    n_examples: int
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    df: float | None = None
    p: float | None = None
    verdict: str = UNKNOWN_NONE
    method: str = ""
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairedResult:
        return cls(**dict(data))


@dataclass(frozen=True)
class AccuracyCI:
    """One method's mean accuracy over seeds and its confidence interval (inside [0, 1])."""

    n_seeds: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    df: float | None
    method: str
    note: str | None = None


def components(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, estimated variance of the mean, and Satterthwaite df of ``x[..., S, E]`` (S ≥ 2).

    Vectorised over leading axes. A non-positive unbiased estimate (MS_seed +
    MS_example < MS_residual) falls back to ``(MS_seed + MS_example)/(S·E)``, which
    overstates the variance by ``σ²_residual/(S·E)``: conservative.
    """
    x = np.asarray(x, dtype=float)
    s, e = x.shape[-2:]
    n = s * e
    m = x.mean(axis=(-2, -1))
    rows, cols = x.mean(axis=-1), x.mean(axis=-2)
    ss_seed = e * ((rows - m[..., None]) ** 2).sum(axis=-1)
    ss_ex = s * ((cols - m[..., None]) ** 2).sum(axis=-1)
    ss_tot = ((x - m[..., None, None]) ** 2).sum(axis=(-2, -1))
    ss_res = np.maximum(ss_tot - ss_seed - ss_ex, 0.0)
    df1, df2, df3 = s - 1, e - 1, (s - 1) * (e - 1)
    t1, t2, t3 = ss_seed / df1 / n, ss_ex / max(df2, 1) / n, ss_res / max(df3, 1) / n
    var = t1 + t2 - t3
    fallback = var <= 0
    var = np.where(fallback, t1 + t2, var)
    # Satterthwaite's df, with the seed term inflated for the df only (MS_seed · df / chi²_q(df)):
    # with few seeds a small MS_seed by chance gives many df and a large t together, which made
    # plain Satterthwaite liberal (6.4 % at alpha = 5 % with 2 seeds). q = 0.5 (median-unbiased)
    # from 3 seeds; q = 0.25 at 2 seeds, where 0.5 still gave 6.0-6.5 %: conservative there.
    from scipy import stats

    u1 = t1 * df1 / float(stats.chi2.ppf(0.25 if s == 2 else 0.5, df1))
    v_df = np.where(fallback, u1 + t2, u1 + t2 - t3)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(fallback, v_df**2 / (u1**2 / df1 + t2**2 / max(df2, 1)),
                      v_df**2 / (u1**2 / df1 + t2**2 / max(df2, 1) + t3**2 / max(df3, 1)))
    df = np.where(np.isfinite(df) & (df > 0), df, float(df1))
    return m, var, np.maximum(df, 1.0)


def decide(diff: np.ndarray, var: np.ndarray, df: np.ndarray, n: int, alpha: float = ALPHA
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two-sided t test and interval of a mean difference on the atanh scale: (low, high, p, rejected).

    ``diff`` is kept off ±1 by half an example (``1 - 1/(2n)``) so the transform stays finite.
    """
    from scipy import stats

    edge = 1 - 1 / (2 * n)
    d = np.clip(diff, -edge, edge)
    z = np.arctanh(d)
    se = np.sqrt(var) / (1 - d**2)
    q = stats.t.ppf(1 - alpha / 2, df)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.t.sf(np.abs(z) / se, df)
    p = np.where(se > 0, p, np.where(z == 0, 1.0, 0.0))
    return np.tanh(z - q * se), np.tanh(z + q * se), p, p < alpha


def _floor_diff(abs_sum: float, n_total: int) -> float:
    # The paired test-set variance if only the discordant examples seen were there, plus half
    # a pseudo-discordance each way (add-half): never zero, so never a zero-width interval.
    return (abs_sum + 1.0) / n_total**2


#: Floor of the crossed estimate: half a pseudo-discordance each way. Only degenerate data (no
#: discordant example) reach it; a higher floor, like the one of the seed-level fallback,
#: would make the verdict conservative (measured: false positives 0.6 % instead of 5 %).
def _floor_crossed(n_total: int) -> float:
    return 1.0 / n_total**2


def compare(a: Mapping[int, Evidence], b: Mapping[int, Evidence], alpha: float = ALPHA) -> PairedResult:
    """A against B over their shared seeds: crossed model on per-example outcomes, else seed-level t."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return PairedResult(0, 0, verdict=UNKNOWN_NONE)
    ea, eb = [a[s] for s in seeds], [b[s] for s in seeds]
    sizes = {x.n for x in ea + eb}
    exact = all(x.correct is not None for x in ea + eb) and len(sizes) == 1
    n = sizes.pop() if len(sizes) == 1 else 0
    if exact:
        d = np.stack([x.correct for x in ea]).astype(int) - np.stack([x.correct for x in eb]).astype(int)  # type: ignore[misc]
        diff = float(d.mean())
    else:
        dk = np.array([x.hits / x.n - y.hits / y.n for x, y in zip(ea, eb, strict=True)])
        # Integer counts over a common n: differences equal up to float noise are exactly equal.
        if n:
            dk = np.array([x.hits - y.hits for x, y in zip(ea, eb, strict=True)], dtype=float) / n
        diff = float(dk.mean())
    if len(seeds) == 1:
        return PairedResult(1, n, diff, verdict=UNKNOWN_ONE, method=CROSSED if exact else SEED_T,
                            note="one shared seed: no seed variance, no verdict")
    s = len(seeds)
    note = None
    if exact:
        n_total = s * n
        _, var, df = components(d[None])
        var_f = float(var[0])
        if var_f < _floor_crossed(n_total):
            var_f, note = _floor_crossed(n_total), "no discordant example: variance floored at 1/N² (add-half)"
        df_f, method = float(df[0]), CROSSED
    else:
        n_eff = n or round(np.mean([x.n for x in ea + eb]))
        n_total = s * n_eff
        var_f, df_f, method, note = float(dk.var(ddof=1)) / s, float(s - 1), SEED_T, SEED_T_NOTE
        floor = _floor_diff(float(np.abs(dk).sum()) * n_eff, n_total)
        if var_f < floor:
            var_f, note = floor, SEED_T_NOTE + "; variance floored at the add-half test-set variance"
    low, high, p, rejected = decide(np.array(diff), np.array(var_f), np.array(df_f), n_total, alpha)
    verdict = (WIN if diff > 0 else LOSS) if bool(rejected) else WITHIN_NOISE
    return PairedResult(s, n, diff, float(low), float(high), df_f, float(p), verdict, method, note)


def accuracy_ci(ev: Mapping[int, Evidence], alpha: float = ALPHA) -> AccuracyCI:
    """Mean accuracy over the given seeds with a logit-scale interval from the same crossed model.

    The variance is floored at the binomial variance of the add-half accuracy
    ``(k + 0.5)/(N + 1)`` over all ``N`` scored examples, so a zero sd never gives a
    zero-width interval and 0 or 1 hits stay finite on the logit scale.
    """
    from scipy import stats

    seeds = sorted(ev)
    if not seeds:
        return AccuracyCI(0, None, None, None, None, "")
    items = [ev[s] for s in seeds]
    s = len(items)
    hits, n_total = sum(x.hits for x in items), sum(x.n for x in items)
    mean = float(np.mean([x.hits / x.n for x in items]))
    sizes = {x.n for x in items}
    note = None
    if all(x.correct is not None for x in items) and len(sizes) == 1:
        a = np.stack([x.correct for x in items]).astype(float)  # type: ignore[misc]
        method = CROSSED
        if s == 1:
            var, df = float(a.var(ddof=1)) / a.shape[1], float(a.shape[1] - 1)
            note = "one seed: test-set noise only"
        else:
            _, v, d = components(a[None])
            var, df = float(v[0]), float(d[0])
    else:
        method = SEED_T
        if s == 1:
            var, df, note = 0.0, math.inf, "one seed, no per-example outcomes: binomial test-set noise only"
        else:
            var = float(np.var([x.hits / x.n for x in items], ddof=1)) / s
            df, note = float(s - 1), SEED_T_NOTE
    p_half = (hits + 0.5) / (n_total + 1)
    floor = p_half * (1 - p_half) / n_total
    if var < floor:
        var = floor
        note = "; ".join(filter(None, [note, "variance floored at the add-half binomial variance"]))
    centre = math.log(p_half / (1 - p_half))
    half = float(stats.t.ppf(1 - alpha / 2, df)) * math.sqrt(var) / (p_half * (1 - p_half))
    expit = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    return AccuracyCI(s, mean, expit(centre - half), expit(centre + half), df, method, note)


def hedges_gz(a: Mapping[int, Evidence], b: Mapping[int, Evidence], alpha: float = ALPHA
              ) -> tuple[float, float, float] | None:
    """Hedges' g_z of the per-seed differences over shared seeds, with an approximate interval.

    None below :data:`G_MIN_SEEDS` shared seeds or when the differences are identical
    (sd = 0: no standardised effect). Interval: ``g ± z·sqrt(1/S + g²/(2S))``.
    """
    from scipy import stats

    seeds = sorted(set(a) & set(b))
    s = len(seeds)
    if s < G_MIN_SEEDS:
        return None
    d = np.array([a[x].hits / a[x].n - b[x].hits / b[x].n for x in seeds])
    if len({a[x].n for x in seeds} | {b[x].n for x in seeds}) == 1:
        d = np.array([a[x].hits - b[x].hits for x in seeds], dtype=float)
    sd = float(d.std(ddof=1))
    if sd == 0:
        return None
    g = (1 - 3 / (4 * (s - 1) - 1)) * float(d.mean()) / sd
    half = float(stats.norm.ppf(1 - alpha / 2)) * math.sqrt(1 / s + g * g / (2 * s))
    return g, g - half, g + half
