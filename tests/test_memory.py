"""glibc allocator settings (lusfeat._memory): applied by the CLI, off with LUSFEAT_MALLOC=default."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lusfeat._memory import MALLOC_ENV, tune_malloc

_SHOW = ("import os, lusfeat.cli as c, lusfeat._memory as m; c._tune_memory(); "
         "print({k: os.environ.get(k) for k in m.MALLOC_ENV})")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV and k != "LUSFEAT_MALLOC"}
    return {**env, **extra}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_the_cli_applies_the_settings_and_passes_them_on():
    out = subprocess.run([sys.executable, "-c", _SHOW], env=_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(MALLOC_ENV)
    off = subprocess.run([sys.executable, "-c", _SHOW], env=_env(LUSFEAT_MALLOC="default"), capture_output=True,
                         text=True, check=True)
    assert off.stdout.strip() == str(dict.fromkeys(MALLOC_ENV))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_mallopt_accepts_the_settings():
    code = "from lusfeat._memory import tune_malloc; print(tune_malloc())"
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_turned_off(monkeypatch):
    monkeypatch.setenv("LUSFEAT_MALLOC", "default")
    assert tune_malloc() is False
