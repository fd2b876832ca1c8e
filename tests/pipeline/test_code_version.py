"""The stage cache's code fingerprint covers the subpackages and the top-level modules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import lusfeat.pipeline._cache as cache

SRC = Path(cache.__file__).resolve().parents[1]


@pytest.fixture()
def tree(tmp_path, monkeypatch):
    root = tmp_path / "lusfeat"
    shutil.copytree(SRC, root, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "_ROOT", root)
    cache.code_version.cache_clear()
    yield root
    cache.code_version.cache_clear()


@pytest.mark.parametrize("changed, counts", [
    ("_masks.py", True),        # mask specs change what a stage reads
    ("_config.py", True),       # option checks and defaults
    ("_io.py", True),
    ("seg/_loss.py", True),     # a listed subpackage
    ("stats/_cv.py", False),    # a subpackage not asked for
    ("cli.py", False),          # the launcher
    ("_progress.py", False),    # the progress display
])
def test_code_version_follows_the_sources_results_depend_on(tree, changed, counts):
    before = cache.code_version("seg", "labels")
    with open(tree / changed, "a", encoding="utf-8") as fh:
        fh.write("\n# changed\n")
    cache.code_version.cache_clear()
    assert (cache.code_version("seg", "labels") != before) is counts
