"""Draw the scan regions lusfeat's ingest detects on the real LUS frames.

Usage::

    python docs/make_sector_figure.py [REAL_LUS_DIR] [--out docs/figures/sector_overlay.png]
                                      [--all-licences]

By default only frames whose licence allows sharing adapted material (CC BY 4.0 / 2.0, the
POCUS dataset clips) are drawn, so the figure can live in the repository. ``--all-licences``
adds the COVID-BLUES frames (CC BY-NC-ND 4.0) for checking by eye; do not commit that
figure (the licence forbids sharing adapted material).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_lus"
SHAREABLE = ("CC BY 4.0", "CC BY 2.0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real_lus", nargs="?", type=Path,
                        default=Path(os.environ.get("LUSFEAT_REAL_LUS", DEFAULT_REAL)))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "figures" / "sector_overlay.png")
    parser.add_argument("--all-licences", action="store_true")
    args = parser.parse_args()

    import imageio.v3 as iio
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from lusfeat.data.ingest import detect_scan_region

    labels = pd.read_csv(args.real_lus / "labels.csv")
    if not args.all_licences:
        labels = labels[labels["license"].isin(SHAREABLE)]
    n = len(labels)
    cols = 7
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.75 * rows + 0.6))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, r in zip(np.ravel(axes), labels.itertuples(), strict=False):
        img = iio.imread(args.real_lus / r.filename)
        region = detect_scan_region(img)
        ax.imshow(img if img.ndim == 3 else img, cmap="gray", vmin=0, vmax=255)
        ax.contour(region.mask, levels=[0.5], colors="#ff3b30", linewidths=1.0)
        y0, y1, x0, x1 = region.bbox
        ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   edgecolor="#ffd60a", linewidth=0.8, linestyle="--"))
        name = Path(r.filename).stem.split("__")[1][:22]
        ax.set_title(f"{name}\n{r.probe} -> {region.kind}, {region.fraction:.0%}", fontsize=7)
    fig.suptitle("lusfeat ingest: detected scan region (red) and crop box (yellow) on real frames", fontsize=10)
    credit = ("Frames: POCUS dataset (Born et al. 2021, doi:10.3390/app11020672); Neuruppin clips CC BY 4.0 "
              "(C. Buhre); Vieira et al. 2020 CC BY 4.0; Tsung et al. 2012 and Testa et al. 2012 CC BY 2.0. "
              "Overlays added by lusfeat.")
    fig.text(0.5, 0.005, credit, ha="center", va="bottom", fontsize=6, wrap=True)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"figure written to {args.out}")


if __name__ == "__main__":
    main()
