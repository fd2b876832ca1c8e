"""Benchmark of ``lusfeat power`` (``lusfeat.stats.power``).

Target setting: 4 cohort sizes (40, 80, 160, 320 patients) x 100 replicates, truth masks
vs fused labels at 10% (``labels:10``), task ``sf`` with the ``linear`` model family,
5-fold patient-grouped CV and 500 bootstrap resamples per test, on 2 worker processes
(one thread each). The pool of simulated patients (4 x 320 = 1,280 patients, 64 px
frames, one frame per clip, 6 zones, 3 annotators) is simulated and its features
extracted once; every replicate draws its patients from it.

Run::

    python benchmarks/bench_power.py                  # target setting, prints a table and JSON
    python benchmarks/bench_power.py --quick          # 2 sizes x 10 replicates
    python benchmarks/bench_power.py --out DIR        # also keep the power folder (CSV, PNG)
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="40,80,160,320")
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--task", default="sf")
    ap.add_argument("--model", default="linear")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="sizes 40,80 x 10 replicates")
    ap.add_argument("--out", default=None, help="keep the power folder here")
    args = ap.parse_args()
    sizes = (40, 80) if args.quick else tuple(int(s) for s in args.sizes.split(","))
    reps = 10 if args.quick else args.replicates

    from lusfeat.stats import power

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "power"
        t0 = time.perf_counter()
        res = power(out, sizes=sizes, replicates=reps, tasks=args.task, models=args.model,
                    n_jobs=args.jobs, seed=args.seed, progress=False, overwrite=True)
        wall = time.perf_counter() - t0
    print(res.summary())
    sec = res.meta["seconds"]
    print(f"\n{'stage':<40} {'seconds':>8}")
    print(f"{'pool: simulate ' + str(res.meta['pool']['patients']) + ' patients + features':<40} "
          f"{sec['pool']:>8.1f}")
    print(f"{'replicates: ' + str(len(sizes) * reps) + ' planned comparisons':<40} {sec['replicates']:>8.1f}")
    print(f"{'total (wall)':<40} {wall:>8.1f}")
    print(json.dumps({"sizes": list(sizes), "replicates": reps, "jobs": args.jobs, "cpu_count": os.cpu_count(),
                      "load_average": os.getloadavg(), "seconds": {**sec, "wall": round(wall, 1)},
                      "power": res.table.to_dict(orient="records")}, indent=2))


if __name__ == "__main__":
    main()
