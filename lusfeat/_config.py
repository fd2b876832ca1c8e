"""Options declared once: dataclass configs whose fields carry default, help and validation.

A config field is declared with :func:`option` (default, help text, optional
CLI flag); the config's ``__post_init__`` checks the values and raises
:class:`~lusfeat.InputError` with a one-line message naming the option
(``--epochs must be >= 1, got 0``). :func:`with_options` turns fields into the
Typer options of a command, with the same flag names, defaults and help, so a
command, the Python API and the sweep share one declaration::

    @with_options(TrainConfig, TRAIN_OPTIONS, after="strategy")
    def train_command(cohort, out, strategy, **options): ...
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._errors import InputError

__all__ = ["AnalysisConfig", "ANALYZE_OPTIONS", "FeatureConfig", "POWER_ANALYSIS", "NO_INIT_HELPS", "PRETRAIN_OPTIONS", "PRETRAIN_TRAIN", "TrainConfig", "TRAIN_OPTIONS", "option",
           "option_help", "with_options"]


def option(default: Any, help: str, *, flag: str | None = None, cli_type: Any = None) -> Any:
    """A dataclass field with its help text (and CLI flag) in the field's metadata.

    Parameters
    ----------
    default : object
        The default value.
    help : str
        Help text of the option (CLI ``--help`` and documentation).
    flag : str, optional
        Click declaration when it is not ``--name-with-dashes`` (e.g.
        ``"--augmentation/--no-augmentation"``).
    cli_type : type, optional
        The type the CLI parses when it differs from the field's (e.g. ``int | None``
        for a field that also takes an ``(H, W)`` pair from Python).
    """
    return field(default=default, metadata={"help": help, "flag": flag, "cli_type": cli_type})


def option_help(cls: type, name: str) -> str:
    """The help text of field ``name`` of config class ``cls``."""
    return _field(cls, name).metadata["help"]


def _field(cls: type, name: str) -> dataclasses.Field:
    try:
        return next(f for f in dataclasses.fields(cls) if f.name == name)
    except StopIteration:
        raise InputError(f"{cls.__name__} has no option {name!r}") from None


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _parameter(cls: type, name: str, default: Any = dataclasses.MISSING, param: str | None = None,
               help: str | None = None) -> inspect.Parameter:
    """Field ``name`` of ``cls`` as a keyword-only ``typer.Option`` parameter named ``param``
    (default: the field's name; a renamed parameter also gets the flag ``--param-name``)."""
    import typer

    f = _field(cls, name)
    hints = _hints(cls)
    annotation = f.metadata.get("cli_type") or hints[name]
    value = f.default if default is dataclasses.MISSING else default
    if isinstance(value, tuple):  # list options: Typer wants a list default
        value = list(value)
    flag = _flag(f) if param is None else "--" + param.replace("_", "-")
    opt = typer.Option(value, *flag.split(" "), help=help or f.metadata["help"])
    return inspect.Parameter(param or name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=annotation)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def with_options(cls: type, names: Sequence[str], *, after: str | None = None,
                 defaults: dict[str, Any] | None = None,
                 rename: dict[str, str] | None = None,
                 helps: dict[str, str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add fields of ``cls`` as Typer options to a command taking ``**options``.

    Parameters
    ----------
    cls : type
        A config dataclass whose fields were declared with :func:`option`.
    names : sequence of str
        The fields to expose, in help order.
    after : str, optional
        Insert the options after this parameter of the command (default: at the end).
    defaults : dict, optional
        Defaults that differ from the field's (the sweep trains with 5 folds).
    rename : dict, optional
        Parameter names that differ from the field's, e.g. ``{"folds":
        "analysis_folds"}`` gives the sweep ``--analysis-folds`` for
        :attr:`AnalysisConfig.folds`; the command receives the new name.
    helps : dict, optional
        Help texts that differ from the field's (where the command's own
        defaults make the field's text wrong).

    Returns
    -------
    callable
        A decorator; the command receives the options as keyword arguments.
    """
    defaults = defaults or {}
    rename = rename or {}
    helps = helps or {}

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        new = [_parameter(cls, n, defaults.get(n, dataclasses.MISSING), rename.get(n), helps.get(n)) for n in names]
        at = len(own) if after is None else [p.name for p in own].index(after) + 1
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
        params[at:at] = new

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            return fn(**kwargs)

        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def _at_least(name: str, value: Any, lo: int) -> None:
    if int(value) < lo:
        raise InputError(f"--{name.replace('_', '-')} must be >= {lo}, got {value}")


@dataclass(frozen=True)
class TrainConfig:
    """Options of U-Net training (``lusfeat train``, :func:`lusfeat.seg.train`, the sweep).

    Every field is an option of ``lusfeat train`` except ``weight_decay`` and
    ``dice_weight`` (Python only); the sweep exposes the model and schedule
    ones. See :func:`lusfeat.seg.train` for what each does.

    Raises
    ------
    InputError
        When a value is out of range; the one-line message names the option.

    Examples
    --------
    >>> TrainConfig(epochs=10, size=64).batch_size
    8
    """

    folds: int = option(1, "Cross-fitting folds K: K models on patient folds so every frame gets an "
                           "out-of-fold prediction (1: one model).")
    epochs: int = option(30, "Training epochs per model.")
    device: str = option("auto", "auto, cpu, cuda or cuda:N.")
    size: int | tuple[int, int] | None = option(
        None, "Train at SxS pixels (frames resized on the fly); default: the cohort's frame size.",
        cli_type=int | None)
    depth: int | None = option(None, "U-Net poolings (default 4, or the --init model's).")
    width: int | None = option(None, "U-Net channels of the first level (default 16, or the --init model's).")
    batch_size: int = option(8, "Frames per step.")
    lr: float = option(1e-2, "Peak AdamW learning rate (cosine schedule).")
    weight_decay: float = option(1e-4, "AdamW weight decay.")
    val_fraction: float = option(0.15, "Share of each model's training patients held out to pick the best "
                                       "epoch (0: keep the last).")
    dice_weight: float = option(1.0, "Weight of the soft Dice term of the loss.")
    augmentation: bool = option(True, "Flips, gain/contrast, shifts, scaling.",
                                flag="--augmentation/--no-augmentation")
    seed: int = option(0, "Seed of folds, initial weights and augmentation.")
    threads: int | None = option(None, "CPU threads for torch (default: torch's; use 1 on a busy machine).")
    compile: bool = option(False, "torch.compile the network.", flag="--compile/--no-compile")
    ignore_classes: tuple[str, ...] = option(
        (), "A class your annotators did not draw (repeatable): left out of the loss, or with --init trained "
            "toward the --init network's own output so that it keeps what it knew.", flag="--ignore-class",
        cli_type=list[str])

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignore_classes", tuple(str(c) for c in self.ignore_classes or ()))
        for name in ("folds", "epochs", "batch_size"):
            _at_least(name, getattr(self, name), 1)
        for name in ("depth", "width", "threads"):
            if getattr(self, name) is not None:
                _at_least(name, getattr(self, name), 1)
        if self.size is not None:
            sizes = (self.size,) if isinstance(self.size, (int, float)) else tuple(self.size)
            if len(sizes) not in (1, 2) or min(int(s) for s in sizes) < 8:
                raise InputError(f"--size must be an integer >= 8 or a pair (H, W) of them, got {self.size!r}")
        if not float(self.lr) > 0:
            raise InputError(f"--lr must be > 0, got {self.lr}")
        if not 0 <= float(self.val_fraction) < 1:
            raise InputError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        for name in ("weight_decay", "dice_weight"):
            if not float(getattr(self, name)) >= 0:
                raise InputError(f"{name} must be >= 0, got {getattr(self, name)}")

    def model(self, init: Any = None) -> Any:
        """The :class:`~lusfeat.seg.UNetConfig` of ``depth`` and ``width`` (4 and 16 when unset);
        ``None`` when both are unset and an ``init`` checkpoint supplies the network."""
        if self.depth is None and self.width is None and init is not None:
            return None
        from .seg import UNetConfig

        return UNetConfig(depth=4 if self.depth is None else self.depth,
                          width=16 if self.width is None else self.width)

    def train_kwargs(self, init: Any = None) -> dict[str, Any]:
        """Keyword arguments of :func:`lusfeat.seg.train` for these options (``model`` for ``depth``/``width``)."""
        kw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("depth", "width")}
        return {**kw, "model": self.model(init), "init": init}


#: Training defaults of :func:`lusfeat.seg.pretrain` (a 4-level U-Net of width 16, batch 16, 10 epochs,
#: 10 % of the simulated patients held out to pick the best epoch).
PRETRAIN_TRAIN = TrainConfig(epochs=10, batch_size=16, depth=4, width=16, val_fraction=0.1)
#: The fields of :class:`TrainConfig` that ``lusfeat pretrain`` has as options, in help order.
PRETRAIN_OPTIONS: tuple[str, ...] = ("epochs", "depth", "width", "batch_size", "lr", "device", "threads")
#: Help texts of :class:`TrainConfig` options for commands without ``--init`` (``pretrain``, ``sweep``).
NO_INIT_HELPS: dict[str, str] = {"depth": "U-Net poolings.", "width": "U-Net channels of the first level."}

#: The fields of :class:`TrainConfig` that ``lusfeat train`` has as options, in help order.
TRAIN_OPTIONS: tuple[str, ...] = ("folds", "epochs", "device", "size", "depth", "width", "batch_size", "lr",
                                  "seed", "val_fraction", "augmentation", "ignore_classes", "threads", "compile")


@dataclass(frozen=True)
class FeatureConfig:
    """Options of feature extraction (``lusfeat features``, ``segment --features``, the sweep).

    See :func:`lusfeat.features.extract` for what each does.

    Raises
    ------
    InputError
        For an unknown backend or a batch below 1.

    Examples
    --------
    >>> FeatureConfig(backend="cpu").batch
    256
    """

    backend: str = option("auto", "Feature backend: auto, reference, cpu or cuda (auto: cuda when a GPU "
                                  "is seen).")
    batch: int = option(256, "Frames per batch (with --scheduler: per task, rounded up to whole Zarr chunks).")

    def __post_init__(self) -> None:
        from .features._compute import parse_backend

        object.__setattr__(self, "backend", parse_backend(self.backend).value)
        _at_least("batch", self.batch, 1)

    def extract_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`lusfeat.features.extract` for these options."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _names(value: Any, allowed: Sequence[str], option: str) -> tuple[str, ...]:
    """``value`` (a name, ``"all"`` or a sequence of them) as a tuple of distinct allowed names."""
    items = (value,) if isinstance(value, str) else tuple(value)
    out: list[str] = []
    for v in items:
        if v == "all":
            out += [a for a in allowed if a not in out]
        elif v in allowed:
            if v not in out:
                out.append(v)
        else:
            raise InputError(f"{option} must be one of {tuple(allowed)} or 'all'; got {v!r}")
    if not out:
        raise InputError(f"{option}: choose at least one of {tuple(allowed)}")
    return tuple(out)


@dataclass(frozen=True)
class AnalysisConfig:
    """Options of the clinical analysis (``lusfeat analyze``, :func:`lusfeat.stats.analyze`,
    ``lusfeat power`` and the sweep).

    ``tasks`` and ``models`` take names or ``"all"`` and hold the expanded
    names; ``primary`` takes ``TASK=METRIC`` strings or a mapping and holds a
    dict. See :func:`lusfeat.stats.analyze` for what each option does.

    Raises
    ------
    InputError
        When a value is out of range or unknown; the one-line message names the option.

    Examples
    --------
    >>> AnalysisConfig(tasks="sf", models=["linear"]).tasks
    ('sf',)
    >>> AnalysisConfig().models
    ('xgboost', 'linear', 'penalized')
    """

    tasks: tuple[str, ...] = option(("all",), "sf, sf-change, readmission or all (repeatable).", flag="--task",
                                    cli_type=list[str])
    models: tuple[str, ...] = option(("all",), "xgboost, linear, penalized or all (repeatable).", flag="--model",
                                     cli_type=list[str])
    folds: int = option(5, "Patient-grouped CV folds K.")
    repeats: int = option(2, "CV repeats R (seeds seed, seed + 1, ...).")
    bootstrap: int = option(2000, "Patient bootstrap resamples B.")
    seed: int = option(0, "Seed of folds, models and bootstrap.")
    n_jobs: int = option(1, "XGBoost threads.")
    covariates: tuple[str, ...] = option((), "Clinical column added to the features, e.g. age (repeatable).",
                                         flag="--covariate", cli_type=list[str])
    exclude_unreliable_sf: bool = option(True, "Exclude exams with SpO2 > 97% on supplemental oxygen from the S/F "
                                               "tasks.", flag="--exclude-unreliable-sf/--keep-unreliable-sf")
    change_margin: float = option(0.10, "Relative S/F change separating improved/worsened from stable.")
    change_classes: int = option(2, "sf-change classes: 2 (worsened vs improved) or 3.")
    sf_model: str = option("ols", "Linear S/F model: ols (cluster-robust) or mixedlm (random intercept per "
                                  "patient).")
    min_events: int = option(10, "Minimum rows per class (patients for sf) for a task to run.")
    confidence_level: float = option(0.95, "Level of every confidence interval.")
    primary: Any = option(None, "Primary metric override TASK=METRIC, e.g. sf=rmse (repeatable; defaults: "
                                "sf=mae, sf-change=auc, readmission=auc).", cli_type=list[str] | None)
    best: str | None = option(None, "A compared pipeline designated best beforehand; the others are also "
                                    "compared with it (confirmatory).")
    alpha: float = option(0.05, "Family-wise error rate of the confirmatory family (Holm).")
    unstratified_fallback: bool = option(False, "Use unstratified grouped folds (with a warning) when a class "
                                                "has fewer patients than --folds, instead of skipping the task.")

    def __post_init__(self) -> None:
        from .stats._models import MODELS
        from .stats._plan import parse_primary
        from .stats._tasks import TASKS

        set_ = functools.partial(object.__setattr__, self)
        set_("tasks", _names(self.tasks, TASKS, "--task"))
        set_("models", _names(self.models, MODELS, "--model"))
        set_("covariates", tuple(self.covariates or ()))
        set_("primary", {t: m for t, m in parse_primary(self.primary).items()})
        for name, lo in (("folds", 2), ("repeats", 1), ("bootstrap", 2), ("n_jobs", 1), ("min_events", 1)):
            v = getattr(self, name)
            if int(v) != v or v < lo:
                raise InputError(f"--{name.replace('_', '-')} must be an integer >= {lo}; got {v!r}")
        if not 0.5 < self.confidence_level < 1:
            raise InputError(f"confidence_level must be in (0.5, 1); got {self.confidence_level}")
        if not 0 < self.alpha < 1:
            raise InputError(f"--alpha must be in (0, 1); got {self.alpha}")
        if self.change_classes not in (2, 3):
            raise InputError(f"--change-classes must be 2 or 3; got {self.change_classes}")
        if not 0 < float(self.change_margin) < 1:
            raise InputError(f"--change-margin must be in (0, 1); got {self.change_margin}")
        if self.sf_model not in ("ols", "mixedlm"):
            raise InputError(f"--sf-model must be ols or mixedlm; got {self.sf_model!r}")

    def analyze_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`lusfeat.stats.analyze` for these options."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


#: The fields of :class:`AnalysisConfig` that ``lusfeat analyze`` has as options, in help order.
ANALYZE_OPTIONS: tuple[str, ...] = ("tasks", "models", "folds", "repeats", "bootstrap", "seed", "n_jobs",
                                    "covariates", "change_margin", "change_classes", "sf_model", "min_events",
                                    "primary", "best", "alpha", "unstratified_fallback", "exclude_unreliable_sf")

#: The analysis options of :func:`lusfeat.stats.power` (and ``lusfeat power``) with their defaults there:
#: a quick linear S/F model per replicate.
POWER_ANALYSIS: dict[str, Any] = {"tasks": ("sf",), "models": ("linear",), "primary": None, "folds": 5,
                                  "bootstrap": 500, "min_events": 10, "alpha": 0.05}
