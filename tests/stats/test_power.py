"""Power by simulation: monotone in cohort size, nominal under the null, reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lusfeat import InputError
from lusfeat.stats import PowerPool, power
from lusfeat.stats._power import _holm, _wilson

FAST = {"folds": 3, "bootstrap": 200, "min_events": 3, "progress": False}


@pytest.fixture(scope="module")
def pools():
    """Synthetic pools (known signal): truth features vs noisier ones, and a null pair."""
    from lusfeat.testing._synthetic import synthetic_study

    clin, feats, _ = synthetic_study(400, noise={"truth": 0.3, "noisy": 0.9, "truth_again": 0.3}, seed=3)
    effect = PowerPool(clin, {"truth": feats["truth"], "noisy": feats["noisy"]})
    null = PowerPool(clin, {"truth": feats["truth"], "truth_again": feats["truth_again"]})
    return effect, null


def test_power_is_monotone_in_cohort_size(pools, tmp_path):
    effect, _ = pools
    res = power(tmp_path / "p", sizes=(10, 20, 80), replicates=16, pool=effect, reference="truth",
                degraded="noisy", **FAST)
    t = res.table.set_index("size")
    assert list(t.index) == [10, 20, 80] and (t["run"] == 16).all()
    assert t.loc[10, "power"] <= t.loc[20, "power"] <= t.loc[80, "power"]
    assert t.loc[80, "power"] >= 0.9 and t.loc[10, "power"] < t.loc[80, "power"]
    assert (t["ci_low"] <= t["power"]).all() and (t["power"] <= t["ci_high"]).all()
    assert (t["mean_difference"] > 0).all()  # noisier features: larger MAE
    assert (t["power_worse"] <= t["power"]).all() and t.loc[80, "power_worse"] >= 0.9
    names = {p.name for p in (tmp_path / "p").iterdir()}
    assert names == {"power.parquet", "power.csv", "replicates.parquet", "power.png", "power.json"}
    assert (tmp_path / "p" / "power.png").read_bytes()[:4] == b"\x89PNG"
    back = pd.read_parquet(tmp_path / "p" / "power.parquet")
    assert len(back) == 3 and "power" in back.columns
    assert "n =   80" in str(res.summary())
    assert res.summary().as_frame("power").equals(res.table)


def test_power_under_the_null_is_near_alpha(pools):
    """Two pipelines of equal quality: the share of significant replicates stays near 5%."""
    _, null = pools
    res = power(None, sizes=(60,), replicates=40, pool=null, reference="truth", degraded="truth_again",
                **FAST)
    row = res.table.iloc[0]
    assert row["run"] == 40
    assert row["power"] <= 0.15, row  # P(>= 7 of 40 | 5%) is about 0.4%


def test_replicates_do_not_depend_on_worker_count(pools):
    effect, _ = pools
    kw = {"sizes": (20,), "replicates": 4, "pool": effect, "reference": "truth", "degraded": "noisy", **FAST}
    one = power(None, n_jobs=1, **kw).replicates
    two = power(None, n_jobs=2, **kw).replicates
    pd.testing.assert_frame_equal(one, two)


def test_auc_primary_uses_delong_and_binary_tasks_run(pools):
    effect, _ = pools
    res = power(None, sizes=(120,), replicates=3, pool=effect, reference="truth", degraded="noisy",
                tasks=("readmission", "sf-change"), models="penalized", **FAST)
    assert set(res.table["metric"]) == {"auc"} and set(res.table["task"]) == {"readmission", "sf-change"}
    assert (res.table["run"] == 3).all() and res.replicates["error"].isna().all()
    # Holm over the two tasks of each replicate
    for _, g in res.replicates.groupby("replicate"):
        np.testing.assert_allclose(g["p_holm"], _holm(g["p"].to_numpy()))


def test_holm_and_wilson_match_independent_implementations():
    from statsmodels.stats.multitest import multipletests
    from statsmodels.stats.proportion import proportion_confint

    p = np.array([0.01, 0.04, 0.03, 0.5, 0.002, 0.04])
    np.testing.assert_allclose(_holm(p), multipletests(p, method="holm")[1])
    for k, n in ((0, 10), (3, 10), (10, 10), (37, 100)):
        np.testing.assert_allclose(_wilson(k, n), proportion_confint(k, n, method="wilson"), atol=1e-12)


def test_bad_options(pools, tmp_path):
    effect, _ = pools
    kw = {"pool": effect, "reference": "truth", "degraded": "noisy", **FAST}
    with pytest.raises(InputError, match="--sizes"):
        power(None, sizes=(2,), replicates=2, **kw)
    with pytest.raises(InputError, match="largest size"):
        power(None, sizes=(500,), replicates=2, **kw)
    with pytest.raises(InputError, match="--replicates"):
        power(None, sizes=(20,), replicates=0, **kw)
    with pytest.raises(InputError, match="both 'truth'"):
        power(None, sizes=(20,), replicates=1, pool=effect, reference="truth", degraded="truth")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(InputError, match="already exists"):
        power(tmp_path / "x", sizes=(20,), replicates=1, **kw)
