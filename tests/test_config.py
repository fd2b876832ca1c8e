"""Options declared once: TrainConfig's fields drive train(), ``lusfeat train`` and ``lusfeat sweep``."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import typer

from lusfeat import InputError
from lusfeat._config import TRAIN_OPTIONS, TrainConfig, option_help
from lusfeat.cli import app
from lusfeat.pipeline._sweep import SWEEP_TRAIN, SWEEP_TRAIN_OPTIONS, SweepConfig
from lusfeat.seg import train

GROUP = typer.main.get_command(app)


def _params(command: str) -> dict[str, object]:
    return {p.name: p for p in GROUP.commands[command].params}


@pytest.mark.parametrize(("command", "names", "defaults"), [
    ("train", TRAIN_OPTIONS, TrainConfig()),
    ("sweep", SWEEP_TRAIN_OPTIONS, SWEEP_TRAIN),
])
def test_cli_options_come_from_the_dataclass(command, names, defaults):
    params = _params(command)
    for name in names:
        p = params[name]
        assert p.help == option_help(TrainConfig, name), name
        assert p.default == getattr(defaults, name), name
        assert f"--{name.replace('_', '-')}" in p.opts, name


def test_flags_unchanged():
    params = _params("train")
    assert params["augmentation"].secondary_opts == ["--no-augmentation"]
    assert params["compile"].secondary_opts == ["--no-compile"]
    assert set(TRAIN_OPTIONS) <= set(params)


def test_train_keywords_match_the_config():
    sig = inspect.signature(train)
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("depth", "width"):  # train() takes model=UNetConfig(depth, width)
            continue
        assert sig.parameters[f.name].default == f.default, f.name
    kw = TrainConfig(epochs=3, depth=2, width=4).train_kwargs()
    assert kw["epochs"] == 3 and kw["model"].depth == 2 and kw["model"].width == 4
    assert set(kw) <= set(sig.parameters)
    assert TrainConfig().model(init="pretrained") is None


BAD = [
    ({"epochs": 0}, "--epochs must be >= 1, got 0"),
    ({"folds": 0}, "--folds must be >= 1, got 0"),
    ({"batch_size": 0}, "--batch-size must be >= 1, got 0"),
    ({"depth": 0}, "--depth must be >= 1, got 0"),
    ({"threads": 0}, "--threads must be >= 1, got 0"),
    ({"size": 4}, "--size must be an integer >= 8"),
    ({"size": (64, 4)}, "--size must be an integer >= 8"),
    ({"lr": 0.0}, "--lr must be > 0, got 0.0"),
    ({"val_fraction": 1.0}, "--val-fraction must be in [0, 1), got 1.0"),
    ({"weight_decay": -1.0}, "weight_decay must be >= 0"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD, ids=[next(iter(b[0])) for b in BAD])
def test_bad_values_are_one_line(kwargs, message):
    with pytest.raises(InputError) as info:
        TrainConfig(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(InputError, match="must be"):
        SweepConfig(**kwargs)


def test_sweep_config_composes_train_config():
    cfg = SweepConfig(epochs=3, depth=2, threads=1)
    assert cfg.train == dataclasses.replace(SWEEP_TRAIN, epochs=3, depth=2, threads=1)
    assert (cfg.epochs, cfg.folds, cfg.batch_size) == (3, 5, 16)
    changed = dataclasses.replace(cfg, epochs=4, seeds=2)
    assert changed.epochs == 4 and changed.depth == 2 and changed.seeds == 2
    # study.json records the same flat names as before the training options moved into TrainConfig
    assert list(SweepConfig().to_dict()) == [
        "strategies", "baseline", "thresholds", "seeds", "seed", "folds", "epochs", "batch_size", "size", "depth",
        "width", "device", "threads", "backend", "eval_bootstrap", "analysis_folds", "analysis_repeats",
        "analysis_bootstrap", "tasks", "models", "min_events"]
    assert SweepConfig(lr=3e-3).to_dict()["lr"] == 3e-3
    with pytest.raises(InputError, match="cannot parse strategy 'bogus'"):
        SweepConfig(strategies=("bogus",))
