"""Plot helpers: the ROC curve and calibration bins against scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from lusfeat.stats._plots import calibration_band, roc_band


def _data(seed=0, n=200):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    return y, p, np.repeat(np.arange(n // 2), 2)


def test_roc_curve_matches_sklearn_and_band_contains_it():
    y, p, g = _data()
    grid, tpr, lo, hi = roc_band(y, p, g, resamples=200)
    fpr_s, tpr_s, _ = roc_curve(y, p)
    np.testing.assert_allclose(tpr, np.interp(grid, fpr_s, tpr_s), atol=1e-12)
    inside = (lo <= tpr + 1e-12) & (tpr <= hi + 1e-12)
    assert inside.mean() > 0.95
    assert (hi - lo)[10:40].min() > 0  # TPR reaches 1 near FPR 0.6 in every resample


def test_calibration_bins():
    y, p, g = _data(1)
    mean_p, obs, lo, hi = calibration_band(y, p, g, bins=5, resamples=100)
    edges = np.quantile(p, np.linspace(0, 1, 6))
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 4)
    np.testing.assert_allclose(obs, [y[b == k].mean() for k in range(5)])
    np.testing.assert_allclose(mean_p, [p[b == k].mean() for k in range(5)])
    assert np.all(lo <= obs + 1e-12) and np.all(obs <= hi + 1e-12)


def test_band_of_a_bin_no_resample_reaches_is_nan_without_warning():
    # one patient alone in the top calibration bin; with few resamples some leave it out
    # entirely, and a bin that every resample leaves empty has no band (NaN), quietly
    import warnings

    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 1], float)
    p = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.55, 0.6, 0.7, 0.99])
    g = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 5])  # patient 5 holds only the top score
    hit = False
    for seed in range(40):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mean_p, obs, lo, hi = calibration_band(y, p, g, bins=5, resamples=1, seed=seed)
        if np.isnan(lo[-1]):
            hit = True
            assert np.isnan(hi[-1]) and np.isfinite(obs[-1])
    assert hit, "no seed left the top bin out of its single resample"
