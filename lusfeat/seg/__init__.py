"""Segmentation: the U-Net, training under a label strategy, inference and evaluation.

The three steps, each writing an artifact the next one reads::

    from lusfeat.seg import train, segment, evaluate, UNetConfig
    run = train("cohort", "runs/t60", "threshold:60", folds=3, epochs=3, size=64,
                model=UNetConfig(depth=3, width=8))
    masks = segment("cohort", run, "masks/t60")          # out-of-fold masks + probabilities
    pre = pretrain("pretrained")                          # a simulator-trained starting point
    ens = ensemble(["pre_s0", "pre_s1", "pre_s2"], "runs/ens")  # mean of several networks
    tuned = train("real_cohort", "runs/tuned", "threshold:60", init=pre)  # fine-tuned on real labels
    result = evaluate("cohort", masks, "eval/t60")       # per-frame metrics, bootstrap summary
    print(result.summary())                              # text; result.table is a DataFrame
"""

from .._config import TrainConfig
from ._checkpoint import load_checkpoint, load_model
from ._ensemble import ensemble
from ._evaluate import METRICS, EvaluationResult, EvaluationSummary, evaluate
from ._folds import assign_folds, make_splits
from ._loss import seg_loss
from ._metrics import hd95, overlap_metrics
from ._pretrain import pretrain
from ._segment import open_run, segment
from ._train import train
from ._unet import UNet, UNetConfig

__all__ = [
    "TrainConfig",
    "METRICS",
    "EvaluationResult",
    "EvaluationSummary",
    "UNet",
    "UNetConfig",
    "assign_folds",
    "ensemble",
    "evaluate",
    "hd95",
    "load_checkpoint",
    "load_model",
    "make_splits",
    "open_run",
    "overlap_metrics",
    "pretrain",
    "seg_loss",
    "segment",
    "train",
]
