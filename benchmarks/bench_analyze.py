"""Benchmark of ``lusfeat.stats.analyze``.

Full setting of the speed target: all three tasks, two model families (XGBoost with
its inner patient-grouped tuning, and the statsmodels linear family), 5x2
patient-grouped CV and 2,000 patient bootstrap resamples on a 200-patient
synthetic study (clinical model of the simulator, exam features linear in the
latent severity plus noise, and noise columns: 97 features per table,
as many as the exam-level table of ``lusfeat features``); then the same with the
third (ridge-penalised) family. Also the sweep's small setting: three pipelines,
3x1 CV, 500 resamples. Threads are pinned to one per library
(``OMP_NUM_THREADS=1``, XGBoost ``n_jobs=1``).

After the timings it prints, for the binary tasks of the full run with every model
family, the balanced accuracy (fold Youden thresholds) and the calibration slope
with their 95% BCa CIs: the collapse check (balanced accuracy CI above 0.5,
calibration slope within 0.5-2).

Run::

    python benchmarks/bench_analyze.py            # prints a table and JSON
    python benchmarks/bench_analyze.py --quick    # sweep setting only
    python benchmarks/bench_analyze.py --simulate DIR
        # instead of the synthetic tables: simulate a 200-patient cohort in DIR (64 px,
        # 1 frame per clip) and extract truth / labels:60 / labels:10 features with
        # lusfeat.features (cpu backend); only analyze is timed
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402


def _run(name, features, clinical, compare, keep=None, **kw):
    from lusfeat.stats import analyze

    t0 = time.perf_counter()
    res = analyze(features, clinical, compare=compare, progress=False, **kw)
    dt = time.perf_counter() - t0
    if keep is not None:
        keep.append(res)
    return {"case": name, "seconds": round(dt, 2), "rows": len(res.results),
            "skipped": sorted(res.skipped), **{k: (list(v) if isinstance(v, tuple) else v)
                                                for k, v in kw.items()}}


def _collapse_table(res) -> list[dict]:
    """Balanced accuracy and calibration slope (BCa CIs) of every binary task and model."""
    r = res.results
    m = r[(r["kind"] == "metric") & (r["ci_method"] == "bca")
          & r["metric"].isin(["balanced_accuracy", "calibration_slope", "auc"])]
    out = []
    for (task, model, pipe), g in m.groupby(["task", "model", "pipeline"], sort=False):
        row = {"task": task, "model": model, "pipeline": pipe}
        for rr in g.itertuples():
            row[rr.metric] = [round(float(rr.estimate), 3), round(float(rr.ci_low), 3), round(float(rr.ci_high), 3)]
        if "balanced_accuracy" in row:
            ba, cs = row["balanced_accuracy"], row["calibration_slope"]
            row["balanced_accuracy_ci_above_0.5"] = ba[1] > 0.5
            row["calibration_slope_in_0.5_2"] = 0.5 <= cs[0] <= 2
            out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="only the sweep setting")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--simulate", metavar="DIR", default=None,
                    help="simulate a cohort in DIR and use extracted mask features")
    args = ap.parse_args()

    import statsmodels.api  # noqa: F401
    import xgboost  # noqa: F401

    import lusfeat.stats  # noqa: F401  (import cost outside the timings)
    from lusfeat.testing._synthetic import synthetic_study

    if args.simulate:
        from pathlib import Path

        from lusfeat.data import simulate_cohort
        from lusfeat.features import extract

        root = Path(args.simulate)
        t0 = time.perf_counter()
        clinical = simulate_cohort(root / "cohort", patients=args.patients, exams=(2, 3), zones=6,
                                   frames=1, size=64, seed=args.seed, overwrite=True)
        feats = {name: extract(clinical, src, root / name, backend="cpu", progress=False, overwrite=True)
                 for name, src in (("truth", "truth"), ("t60", "labels:60"), ("t50", "labels:10"))}
        print(f"simulate + extract: {time.perf_counter() - t0:.1f} s (not timed below)")
    else:
        clinical, feats, _ = synthetic_study(
            args.patients, noise={"truth": 0.3, "t60": 0.8, "t50": 1.5}, seed=args.seed,
            slope_mean=0.0, slope_sd=0.4, n_noise_features=63,
        )
    rows = []
    kept: list = []
    if not args.quick:
        rows.append(_run("full: 1 pipeline, 3 tasks, 2 models, 5x2 CV, B=2000",
                         {"truth": feats["truth"]}, clinical, (), folds=5, repeats=2,
                         bootstrap=2000, seed=args.seed, n_jobs=1, models=("xgboost", "linear")))
        rows.append(_run("full, 3 model families (+ penalized)",
                         {"truth": feats["truth"]}, clinical, (), keep=kept, folds=5, repeats=2,
                         bootstrap=2000, seed=args.seed, n_jobs=1, models=("xgboost", "linear", "penalized")))
        rows.append(_run("full + 2 comparisons, 2 models",
                         {"truth": feats["truth"]}, clinical,
                         {"t60": feats["t60"], "t50": feats["t50"]}, folds=5, repeats=2,
                         bootstrap=2000, seed=args.seed, n_jobs=1, models=("xgboost", "linear")))
    rows.append(_run("sweep: 3 pipelines, 3x1 CV, B=500, 2 models",
                     {"truth": feats["truth"]}, clinical,
                     {"t60": feats["t60"], "t50": feats["t50"]}, folds=3, repeats=1,
                     bootstrap=500, seed=args.seed, n_jobs=1, models=("xgboost", "linear")))
    print(f"{'case':<55} {'seconds':>8}")
    for r in rows:
        print(f"{r['case']:<55} {r['seconds']:>8.2f}")
    source = "simulated cohort + lusfeat.features" if args.simulate else "synthetic tables"
    collapse = _collapse_table(kept[0]) if kept else []
    if collapse:
        print(f"\nbinary tasks, truth features ({source}): estimate [95% BCa CI]")
        print(f"{'task':<12} {'model':<10} {'balanced accuracy':<26} {'calibration slope':<26} auc")
        for c in collapse:
            ba, cs, au = c["balanced_accuracy"], c["calibration_slope"], c["auc"]
            print(f"{c['task']:<12} {c['model']:<10} {ba[0]:.3f} [{ba[1]:.3f}, {ba[2]:.3f}]{'':<6} "
                  f"{cs[0]:.3f} [{cs[1]:.3f}, {cs[2]:.3f}]{'':<6} {au[0]:.3f}")
    print(json.dumps({"patients": args.patients, "source": source, "cpu_count": os.cpu_count(),
                      "load_average": os.getloadavg(), "results": rows, "binary_models": collapse}, indent=2))


if __name__ == "__main__":
    main()
