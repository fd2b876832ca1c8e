"""Start-up cost of the console script: the CLI does not import the simulator or the viewer."""

from __future__ import annotations

import subprocess
import sys


def test_cli_import_leaves_the_simulator_and_viewer_unimported():
    code = ("import sys, lusfeat.cli; "
            "print(sorted(m for m in ('lusfeat.data._simulate', 'lusfeat.data._show', 'scipy.ndimage', "
            "'torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


def test_lazy_names_resolve_and_are_listed():
    import lusfeat.data as data

    assert callable(data.simulate_cohort) and callable(data.show_cohort)
    assert data.SimulationConfig.__name__ == "SimulationConfig"
    assert {"simulate_cohort", "show_cohort", "SimulationConfig"} <= set(dir(data))
    assert set(data.__all__) <= set(dir(data))
    try:
        data.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("missing attribute did not raise")
