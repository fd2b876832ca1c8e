"""Fixtures of the stats tests: a synthetic study with known effects."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def study():
    """(clinical, {"truth": df, "noisy": df}, severity) for 150 patients."""
    from lusfeat.testing._synthetic import synthetic_study

    return synthetic_study(150, seed=0)


@pytest.fixture(scope="session")
def change_study():
    """A study whose patients worsen as often as they improve (sf-change events)."""
    from lusfeat.testing._synthetic import synthetic_study

    return synthetic_study(150, seed=1, slope_mean=0.0, slope_sd=0.4)
