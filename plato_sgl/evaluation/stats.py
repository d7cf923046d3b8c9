"""Small statistics for answer quality, as pure functions: bootstrap intervals over questions and
the length-controlled win rate.

Length control follows AlpacaEval 2's idea: judges favour longer answers, so regress each
question's outcome on the two answers' length difference and read the fitted outcome at zero
length difference. Here the model is a logistic regression of the outcome, scaled to [0, 1]
(a soft label: the debiased preference or win 1 / tie 0.5 / loss 0), on the log word-count ratio,
fitted by Newton's method with a small ridge on the slope only: a separable sample still has a
finite fit, and the ridge shrinks towards "length makes no difference" without pulling the
intercept (the figure read off) towards a tie.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
RIDGE = 1e-3
_INTERCEPT_RIDGE = 1e-9  # only keeps the Hessian invertible when every outcome is the same


def bootstrap_interval(
    n: int, statistic: Callable[[np.ndarray], float], *, resamples: int = RESAMPLES, level: float = LEVEL, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``statistic`` over ``n`` questions: ``statistic`` gets an
    array of question indices drawn with replacement, ``resamples`` times (fixed ``seed``: a report
    written twice says the same). None when there is no question."""
    if n < 1:
        return None
    rng = np.random.default_rng(seed)
    values = np.array([statistic(rng.integers(0, n, n)) for _ in range(resamples)], dtype=float)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def mean_interval(values: Sequence[float], **kwargs) -> tuple[float, float] | None:
    """Bootstrap interval of the mean of ``values`` (one per question)."""
    data = np.asarray(values, dtype=float)
    return bootstrap_interval(len(data), lambda idx: float(data[idx].mean()), **kwargs)


def paired_difference_interval(
    values: Sequence[float], baseline: Sequence[float], **kwargs
) -> tuple[float, float] | None:
    """Bootstrap interval of mean(values) - mean(baseline), resampling questions (pairs kept together)."""
    diff = np.asarray(values, dtype=float) - np.asarray(baseline, dtype=float)
    return bootstrap_interval(len(diff), lambda idx: float(diff[idx].mean()), **kwargs)


def _sigmoid(z: np.ndarray | float) -> np.ndarray | float:
    return 1 / (1 + np.exp(-z))


def fit_logistic(
    y: Sequence[float], x: Sequence[float], *, ridge: float = RIDGE, iterations: int = 100
) -> tuple[float, float]:
    """(intercept, slope) maximizing the mean Bernoulli log-likelihood of soft labels ``y`` in [0, 1]
    under P = sigmoid(intercept + slope * x), minus ``ridge`` / 2 * slope²."""
    y_arr, x_arr = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    if len(y_arr) == 0 or len(y_arr) != len(x_arr):
        raise ValueError(
            f"need as many outcomes as length differences, and at least one (got {len(y_arr)} and {len(x_arr)})"
        )
    if np.any((y_arr < 0) | (y_arr > 1)):
        raise ValueError("outcomes must lie in [0, 1]")
    design = np.column_stack([np.ones_like(x_arr), x_arr])
    w = np.zeros(2)
    n = len(y_arr)
    penalty = np.array([_INTERCEPT_RIDGE, ridge])
    for _ in range(iterations):
        p = _sigmoid(design @ w)
        gradient = design.T @ (p - y_arr) / n + penalty * w
        hessian = (design.T * (p * (1 - p))) @ design / n + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(w[0]), float(w[1])


def length_controlled_preference(preferences: Sequence[float], length_ratios: Sequence[float], **kwargs) -> float:
    """The net preference (-1 to +1) the fit expects at zero length difference: ``preferences`` per
    question on that scale (debiased preference, or win +1 / tie 0 / loss -1), ``length_ratios`` the
    log word-count ratios of the same questions (``evaluation.length_log_ratio``)."""
    y = (np.asarray(preferences, dtype=float) + 1) / 2
    intercept, _ = fit_logistic(y, length_ratios, **kwargs)
    return float(2 * _sigmoid(intercept) - 1)


def length_controlled_interval(
    preferences: Sequence[float],
    length_ratios: Sequence[float],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Bootstrap interval of ``length_controlled_preference``, refitted on each resample of questions."""
    pref, ratio = np.asarray(preferences, dtype=float), np.asarray(length_ratios, dtype=float)
    return bootstrap_interval(
        len(pref),
        lambda idx: length_controlled_preference(pref[idx], ratio[idx]),
        resamples=resamples,
        level=level,
        seed=seed,
    )
