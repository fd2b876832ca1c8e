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

__all__ = ["TrainConfig", "TRAIN_OPTIONS", "option", "option_help", "with_options"]


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


def _parameter(cls: type, name: str, default: Any = dataclasses.MISSING) -> inspect.Parameter:
    """Field ``name`` of ``cls`` as a keyword-only ``typer.Option`` parameter."""
    import typer

    f = _field(cls, name)
    hints = _hints(cls)
    annotation = f.metadata.get("cli_type") or hints[name]
    value = f.default if default is dataclasses.MISSING else default
    opt = typer.Option(value, *_flag(f).split(" "), help=f.metadata["help"])
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=annotation)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def with_options(cls: type, names: Sequence[str], *, after: str | None = None,
                 defaults: dict[str, Any] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
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

    Returns
    -------
    callable
        A decorator; the command receives the options as keyword arguments.
    """
    defaults = defaults or {}

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        new = [_parameter(cls, n, defaults.get(n, dataclasses.MISSING)) for n in names]
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

    def __post_init__(self) -> None:
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


#: The fields of :class:`TrainConfig` that ``lusfeat train`` has as options, in help order.
TRAIN_OPTIONS: tuple[str, ...] = ("folds", "epochs", "device", "size", "depth", "width", "batch_size", "lr",
                                  "seed", "val_fraction", "augmentation", "threads", "compile")
