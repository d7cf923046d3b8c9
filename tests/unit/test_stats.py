"""Bootstrap intervals and the length-controlled win rate on fixed inputs (no server)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plato_sgl.evaluation.stats import (
    bootstrap_interval,
    fit_logistic,
    length_controlled_interval,
    length_controlled_preference,
    mean_interval,
    paired_difference_interval,
)


def test_the_bootstrap_interval_of_a_constant_is_that_constant():
    assert mean_interval([0.3] * 7) == pytest.approx((0.3, 0.3))
    assert mean_interval([]) is None


def test_the_bootstrap_interval_of_two_questions_spans_their_resample_means():
    # resampled means of [0, 1] are 0, 0.5, 1 with chances 1/4, 1/2, 1/4: the 95% interval is (0, 1)
    assert mean_interval([0.0, 1.0]) == (0.0, 1.0)
    # at the 40% level the 30th and 70th percentiles both fall on 0.5
    assert mean_interval([0.0, 1.0], level=0.4) == (0.5, 0.5)


def test_the_bootstrap_is_reproducible_and_narrows_with_more_questions():
    values = list(np.random.default_rng(1).normal(0.2, 1.0, 40))
    low, high = mean_interval(values)
    assert mean_interval(values) == (low, high)  # fixed seed
    assert low < np.mean(values) < high
    wide = mean_interval(values[:10])
    assert high - low < wide[1] - wide[0]
    assert mean_interval(values, seed=2) != (low, high)


def test_the_statistic_sees_resampled_question_indices():
    seen = []
    bootstrap_interval(3, lambda idx: seen.append(idx.copy()) or 0.0, resamples=5)
    assert len(seen) == 5 and all(len(idx) == 3 and set(idx) <= {0, 1, 2} for idx in seen)


def test_a_paired_difference_keeps_questions_together():
    method, baseline = [1, 0, 1, 1], [0, 0, 1, 1]  # differs on one question of four
    low, high = paired_difference_interval(method, baseline)
    assert low == 0.0 and 0.25 <= high <= 0.75
    assert paired_difference_interval([1, 1], [1, 1]) == (0.0, 0.0)


def test_logistic_fit_recovers_the_parameters_of_exact_soft_labels():
    x = np.linspace(-2, 2, 21)
    y = 1 / (1 + np.exp(-(0.4 + 1.5 * x)))  # the labels are the model's own probabilities: the MLE is exact
    intercept, slope = fit_logistic(y, x, ridge=0.0)
    assert intercept == pytest.approx(0.4, abs=1e-6) and slope == pytest.approx(1.5, abs=1e-6)


def test_the_ridge_keeps_a_separable_sample_finite():
    intercept, slope = fit_logistic([0, 0, 1, 1], [-1, -0.5, 0.5, 1])
    assert math.isfinite(intercept) and math.isfinite(slope) and slope > 1
    assert intercept == pytest.approx(0.0, abs=1e-6)  # symmetric sample


def test_fit_logistic_refuses_bad_input():
    with pytest.raises(ValueError, match="as many"):
        fit_logistic([0.5], [0.1, 0.2])
    with pytest.raises(ValueError, match="as many"):
        fit_logistic([], [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fit_logistic([1.5], [0.0])


def test_a_judge_that_only_likes_length_has_no_length_controlled_preference():
    # the method's answers are mostly longer, and the judge prefers whichever answer is longer, by
    # exactly sigmoid(2 * log ratio): raw preference is clearly positive, controlled it is zero
    ratios = np.array([0.2, 0.5, 0.8, 1.0, 1.2, -0.3, 0.6, 0.9])
    prefs = 2 / (1 + np.exp(-2 * ratios)) - 1
    assert prefs.mean() > 0.3
    assert length_controlled_preference(prefs, ratios, ridge=0.0) == pytest.approx(0.0, abs=1e-6)


def test_a_preference_independent_of_length_is_kept():
    ratios = [-1.0, -0.5, 0.5, 1.0] * 3
    prefs = [0.4] * 12
    assert length_controlled_preference(prefs, ratios, ridge=0.0) == pytest.approx(0.4, abs=1e-6)


def test_a_length_controlled_preference_is_read_at_equal_lengths():
    # a preference of +0.5 at equal length, rising with length: controlled gives back +0.5
    ratios = np.array([-0.6, -0.3, 0.0, 0.3, 0.6, 0.9, 1.2, 1.5])
    z = math.log(3) + 1.0 * ratios  # sigmoid(ln 3) = 0.75, a net preference of +0.5
    prefs = 2 / (1 + np.exp(-z)) - 1
    assert length_controlled_preference(prefs, ratios, ridge=0.0) == pytest.approx(0.5, abs=1e-6)
    low, high = length_controlled_interval(prefs, ratios, resamples=200)  # every resample lies on the curve
    assert 0.47 < low <= 0.5 <= high < 0.53  # (the default ridge on the slope moves a resample a little)
