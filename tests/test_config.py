"""Options declared once: the config dataclasses drive the functions, the commands and the sweep."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
import typer

from lusfeat import InputError
from lusfeat._config import (
    ANALYZE_OPTIONS,
    NO_INIT_HELPS,
    POWER_ANALYSIS,
    PRETRAIN_OPTIONS,
    PRETRAIN_TRAIN,
    TRAIN_OPTIONS,
    AnalysisConfig,
    FeatureConfig,
    TrainConfig,
    option_help,
)
from lusfeat.cli import app
from lusfeat.pipeline._sweep import (
    SWEEP_ANALYSIS,
    SWEEP_ANALYSIS_OPTIONS,
    SWEEP_TRAIN,
    SWEEP_TRAIN_OPTIONS,
    SweepConfig,
)
from lusfeat.seg import pretrain, train
from lusfeat.stats import CHANGE_MARGIN, analyze, power

GROUP = typer.main.get_command(app)


def _params(command: str) -> dict[str, object]:
    return {p.name: p for p in GROUP.commands[command].params}


def _default(value):
    return list(value) if isinstance(value, tuple) else value


_FLAGS = {"tasks": "--task", "models": "--model", "covariates": "--covariate", "ignore_classes": "--ignore-class",
          "exclude_unreliable_sf": "--exclude-unreliable-sf"}


@pytest.mark.parametrize(("command", "cls", "names", "defaults", "helps"), [
    ("train", TrainConfig, TRAIN_OPTIONS, {}, {}),
    ("sweep", TrainConfig, SWEEP_TRAIN_OPTIONS, {n: getattr(SWEEP_TRAIN, n) for n in SWEEP_TRAIN_OPTIONS},
     NO_INIT_HELPS),
    ("pretrain", TrainConfig, PRETRAIN_OPTIONS, {n: getattr(PRETRAIN_TRAIN, n) for n in PRETRAIN_OPTIONS},
     NO_INIT_HELPS),
    ("analyze", AnalysisConfig, ANALYZE_OPTIONS, {}, {}),
    ("power", AnalysisConfig, tuple(POWER_ANALYSIS), POWER_ANALYSIS, {}),
    ("features", FeatureConfig, ("backend", "batch"), {}, {}),
    ("segment", FeatureConfig, ("backend",), {}, {}),
    ("sweep", FeatureConfig, ("backend",), {}, {}),
])
def test_cli_options_come_from_the_dataclass(command, cls, names, defaults, helps):
    params = _params(command)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in names:
        p = params[name]
        assert p.help == helps.get(name, option_help(cls, name)), name
        assert p.default == _default(defaults.get(name, fields[name].default)), name
        assert _FLAGS.get(name, f"--{name.replace('_', '-')}") in p.opts, name


def test_sweep_analysis_options_are_renamed_analysis_fields():
    params = _params("sweep")
    for flat, name in SWEEP_ANALYSIS_OPTIONS.items():
        p = params[flat]
        assert p.help == option_help(AnalysisConfig, name)
        assert f"--{flat.replace('_', '-')}" in p.opts
        assert p.default == getattr(AnalysisConfig(), name)


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


def test_function_defaults_match_the_configs():
    sig = inspect.signature(analyze)
    fields = [f.name for f in dataclasses.fields(AnalysisConfig)]
    assert set(fields) <= set(sig.parameters)
    assert AnalysisConfig(**{n: sig.parameters[n].default for n in fields}) == AnalysisConfig()
    assert AnalysisConfig().change_margin == CHANGE_MARGIN
    sig = inspect.signature(power)
    assert {n: sig.parameters[n].default for n in POWER_ANALYSIS} == POWER_ANALYSIS
    sig = inspect.signature(pretrain)
    for name in ("epochs", "batch_size", "lr", "device", "threads", "seed"):
        assert sig.parameters[name].default == getattr(PRETRAIN_TRAIN, name), name
    assert PRETRAIN_TRAIN.model().depth == 4 and PRETRAIN_TRAIN.model().width == 16
    assert AnalysisConfig().analyze_kwargs().keys() <= set(inspect.signature(analyze).parameters)


def test_analysis_config_normalises_names():
    cfg = AnalysisConfig(tasks=["all", "sf"], models="linear", covariates=["age"], primary=["sf=rmse"])
    assert cfg.tasks == ("sf", "sf-change", "readmission")
    assert cfg.models == ("linear",)
    assert cfg.covariates == ("age",)
    assert cfg.primary == {"sf": "rmse"}
    assert FeatureConfig(backend="CPU".lower()).backend == "cpu"


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


BAD_ANALYSIS = [
    ({"folds": 1}, "--folds must be an integer >= 2; got 1"),
    ({"repeats": 0}, "--repeats must be an integer >= 1; got 0"),
    ({"bootstrap": 1}, "--bootstrap must be an integer >= 2; got 1"),
    ({"n_jobs": 0}, "--n-jobs must be an integer >= 1; got 0"),
    ({"min_events": 0}, "--min-events must be an integer >= 1; got 0"),
    ({"tasks": ("bogus",)}, "--task must be one of"),
    ({"models": ()}, "--model: choose at least one of"),
    ({"alpha": 1.5}, "--alpha must be in (0, 1); got 1.5"),
    ({"change_classes": 4}, "--change-classes must be 2 or 3; got 4"),
    ({"change_margin": 0.0}, "--change-margin must be in (0, 1)"),
    ({"sf_model": "gee"}, "--sf-model must be ols or mixedlm; got 'gee'"),
    ({"confidence_level": 0.3}, "confidence_level must be in (0.5, 1)"),
    ({"primary": ["sf"]}, "sf"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_ANALYSIS, ids=[next(iter(b[0])) for b in BAD_ANALYSIS])
def test_bad_analysis_values_are_one_line(kwargs, message):
    with pytest.raises(InputError) as info:
        AnalysisConfig(**kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"analysis_folds": 1}, "--analysis-folds must be an integer >= 2; got 1"),
    ({"analysis_bootstrap": 1}, "--analysis-bootstrap must be an integer >= 2; got 1"),
    ({"min_events": 0}, "--min-events must be an integer >= 1; got 0"),
    ({"backend": "gpu9"}, "backend 'gpu9' is unknown"),
])
def test_bad_sweep_values_name_the_sweep_flag(kwargs, message):
    with pytest.raises(InputError) as info:
        SweepConfig(**kwargs)
    assert message in str(info.value)


def test_bad_feature_values():
    with pytest.raises(InputError, match="--batch must be >= 1, got 0"):
        FeatureConfig(batch=0)
    with pytest.raises(InputError, match="backend 'gpu9' is unknown"):
        FeatureConfig(backend="gpu9")


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


def test_sweep_config_composes_feature_and_analysis_configs():
    cfg = SweepConfig(analysis_folds=3, min_events=8, backend="cpu")
    assert cfg.analysis == AnalysisConfig(**SWEEP_ANALYSIS, folds=3, min_events=8)
    assert cfg.features == FeatureConfig(backend="cpu")
    assert (cfg.analysis_folds, cfg.analysis_repeats, cfg.min_events, cfg.backend) == (3, 2, 8, "cpu")
    assert cfg.tasks == ("sf", "sf-change", "readmission") and cfg.models == ("xgboost", "linear")
    changed = dataclasses.replace(cfg, analysis_bootstrap=31)
    assert changed.analysis.bootstrap == 31 and changed.analysis.folds == 3
    # options the sweep has no flag for are recorded only when they differ from its defaults
    assert "sf_model" not in SweepConfig().to_dict() and "batch" not in SweepConfig().to_dict()
    custom = SweepConfig(analysis=AnalysisConfig(**SWEEP_ANALYSIS, sf_model="mixedlm"),
                         features=FeatureConfig(batch=64))
    record = custom.to_dict()
    assert record["sf_model"] == "mixedlm" and record["batch"] == 64
    assert custom.extra_analysis() == {"sf_model": "mixedlm"}
