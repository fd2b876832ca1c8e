"""A content-addressed stage cache for studies.

A stage is done when its output exists and its marker
``STUDY/.stages/<stage>.json`` holds the stage's current *key*: the
fingerprint of its kind, options, the keys of the stages it reads, the
cohort's fingerprint and the code version of the packages that compute it.
Change any of them and the stage (and everything downstream, whose keys
include it) runs again. Outputs are written atomically by the stage
functions and the marker is written after the output is in place, so an
interrupted run (Ctrl-C or kill) never leaves a stage that looks finished
but is not.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

from .._io import fingerprint, read_json, write_json

__all__ = ["StageCache", "code_version"]

_ROOT = Path(__file__).resolve().parents[1]
#: Top-level modules that cannot change a stage's results.
_NOT_RESULTS = frozenset({"cli.py", "__main__.py", "_progress.py"})


@functools.cache
def code_version(*packages: str) -> str:
    """Fingerprint of lusfeat's version and the source of the given subpackages.

    Parameters
    ----------
    *packages : str
        Subpackage names under ``lusfeat`` (e.g. ``"seg"``, ``"labels"``).
    """
    from .. import __version__

    h = hashlib.sha256(__version__.encode())
    # every top-level module that results can depend on (specs, configs, array and
    # resampling helpers, I/O); not the launchers and the progress display
    files = sorted(p for p in _ROOT.glob("*.py") if p.name not in _NOT_RESULTS)
    for pkg in packages:
        files += sorted((_ROOT / pkg).rglob("*.py"))
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


class StageCache:
    """Cache markers of one study folder.

    Parameters
    ----------
    study : path-like
        The study folder; markers live in ``study/.stages``.
    """

    def __init__(self, study: str | Path) -> None:
        self.study = Path(study)
        self.dir = self.study / ".stages"

    @staticmethod
    def key(kind: str, options: dict[str, Any], deps: list[str], code: str, cohort: str) -> str:
        """The cache key of a stage."""
        return fingerprint(kind, options, sorted(deps), code, cohort)

    def _marker(self, stage_id: str) -> Path:
        return self.dir / (stage_id.replace("/", "__") + ".json")

    def is_done(self, stage_id: str, key: str, out: Path) -> bool:
        """Whether ``stage_id`` finished with this ``key`` and its output exists."""
        m = self._marker(stage_id)
        if not m.exists() or not out.exists():
            return False
        try:
            return read_json(m).get("key") == key
        except Exception:
            return False

    def record(self, stage_id: str, key: str, seconds: float, info: dict[str, Any] | None = None) -> None:
        """Mark ``stage_id`` done (call after its output is in place)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        write_json(
            self._marker(stage_id),
            {"stage": stage_id, "key": key, "seconds": round(seconds, 3),
             "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **(info or {})},
        )

    def seconds(self, stage_id: str) -> float | None:
        """Seconds the last completed run of the stage took."""
        m = self._marker(stage_id)
        if not m.exists():
            return None
        return read_json(m).get("seconds")

    def invalidate(self, stage_id: str, out: Path) -> None:
        """Forget a stage: remove its marker and its (stale) output."""
        self._marker(stage_id).unlink(missing_ok=True)
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()

    def clean_partial(self) -> list[Path]:
        """Remove temporary siblings left by a killed run (``.NAME.tmp-*``)."""
        removed = []
        for p in self.study.rglob(".*.tmp-*"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p)
        return removed
