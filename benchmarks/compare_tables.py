"""Compare the Parquet tables of two lusfeat output folders, exactly.

Typical use: run ``lusfeat demo`` on two versions (same ``--threads``) and check
that a refactoring left every table unchanged::

    lusfeat demo --out /tmp/demo-a --threads 2 --device cpu     # version A
    lusfeat demo --out /tmp/demo-b --threads 2 --device cpu     # version B
    python benchmarks/compare_tables.py /tmp/demo-a /tmp/demo-b

Timing columns (seconds, frames per second) are left out. Exits 1 when any
table differs or exists on one side only.
"""

from __future__ import annotations

import argparse
import sys

from lusfeat.testing import compare_table_folders


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="first output folder")
    ap.add_argument("b", help="second output folder")
    ap.add_argument("--ignore", action="append", default=[], metavar="GLOB",
                    help="relative paths to leave out, e.g. '*/history.parquet' (repeatable)")
    args = ap.parse_args(argv)
    n, diffs = compare_table_folders(args.a, args.b, tuple(args.ignore))
    for d in diffs:
        print(f"DIFFERS {d.path}: {d.problem}")
    print(f"{n - len(diffs)} of {n} tables identical ({len(diffs)} differ) between {args.a} and {args.b}")
    return 1 if diffs or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
