"""Every config class refuses a bad value on every entry path: the constructor, a YAML params file
(:func:`pmresearch.config.from_mapping`) and :func:`dataclasses.replace`, each with a message naming
the field and the bound. The bad values are derived from each field's own declaration (one just past
each bound, a value outside the choices, a wrong type), so a bound added later is tested too."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

from pmresearch.backtest import TakerThreshold
from pmresearch.config import (
    ConfigError,
    NestedConfig,
    RunnerParams,
    Validated,
    flat_defaults,
    flat_fields,
    from_mapping,
    from_namespace,
    load_yaml,
    nested,
    param,
    to_mapping,
)
from pmresearch.experiments.data_features import DataFeaturesConfig
from pmresearch.experiments.explore import ExploreConfig
from pmresearch.experiments.go_no_go import GoCriteria, GoNoGoConfig
from pmresearch.experiments.model_a import ModelAConfig
from pmresearch.simulate import SimConfig, WorldParams, WorldSpec

CONFIGS: tuple[type[Any], ...] = (RunnerParams, SimConfig, WorldSpec, WorldParams, TakerThreshold, GoCriteria,
                                  GoNoGoConfig, ExploreConfig, DataFeaturesConfig, ModelAConfig)

_WORDS = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _bad_values(cls: type[Any]) -> list[tuple[str, Any, str]]:
    """(flat key, bad value, expected message fragment) for every bound and choice of ``cls``."""
    out = []
    for name, leaf in flat_fields(cls).items():
        meta = leaf.meta
        if meta.get("choices") is not None:
            bad = "nope" if isinstance(meta["choices"][0], str) else 7
            out.append((name, bad, f"{name}: {bad!r} is not one of {list(meta['choices'])}"))
        for key, word in _WORDS.items():
            bound = meta.get(key)
            if bound is None:
                continue
            step = 1 if leaf.hint is int else 1e-3 * max(1.0, abs(bound))
            bad = {"ge": bound - step, "gt": bound, "le": bound + step, "lt": bound}[key]
            bad = int(bad) if leaf.hint is int else float(bad)
            out.append((name, bad, f"{name}: {bad!r} must be {word} {bound}"))
    return out


CASES = [pytest.param(cls, name, bad, msg, id=f"{cls.__name__}-{name}={bad!r}")
         for cls in CONFIGS for name, bad, msg in _bad_values(cls)]


def test_every_config_class_has_bounds_to_test() -> None:
    # RunnerParams has only strings (its type test is below); the others each declare bounds or choices
    assert {c.values[0] for c in CASES} == set(CONFIGS) - {RunnerParams}
    assert len(CASES) > 60


@pytest.mark.parametrize(("cls", "name", "bad", "msg"), CASES)
def test_constructor_refuses(cls: type[Any], name: str, bad: Any, msg: str) -> None:
    with pytest.raises(ConfigError) as err:
        cls(**{name: bad})
    assert str(err.value) == f"{cls.__name__}: {msg}"


@pytest.mark.parametrize(("cls", "name", "bad", "msg"), CASES)
def test_yaml_refuses(cls: type[Any], name: str, bad: Any, msg: str, tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({name: bad}))
    with pytest.raises(ConfigError) as err:
        from_mapping(cls, load_yaml(path), what=str(path))
    assert str(err.value) == f"{path}: {msg}"


@pytest.mark.parametrize(("cls", "name", "bad", "msg"), CASES)
def test_replace_refuses(cls: type[Any], name: str, bad: Any, msg: str) -> None:
    with pytest.raises(ConfigError) as err:
        dataclasses.replace(cls(), **{name: bad})
    assert str(err.value) == f"{cls.__name__}: {msg}"


@pytest.mark.parametrize("cls", CONFIGS)
def test_wrong_types_are_refused_on_every_path(cls: type[Any]) -> None:
    name, leaf = next((n, f) for n, f in flat_fields(cls).items() if f.hint in (int, float, str))
    bad: Any = 3 if leaf.hint is str else "3"
    word = {int: "an integer", float: "a number", str: "a string"}[leaf.hint]
    expected = f"{name}: expected {word}, got {type(bad).__name__} {bad!r}"
    for call in (lambda: cls(**{name: bad}), lambda: dataclasses.replace(cls(), **{name: bad})):
        with pytest.raises(ConfigError, match=f"^{cls.__name__}: {expected}$"):
            call()
    with pytest.raises(ConfigError, match=f"^params.yaml: {expected}$"):
        from_mapping(cls, {name: bad}, what="params.yaml")
    numeric = [n for n, f in flat_fields(cls).items() if f.hint in (int, float)]
    for n in numeric[:1]:  # a bool is never a number
        with pytest.raises(ConfigError, match=f"^{cls.__name__}: {n}: expected (an integer|a number), got bool True$"):
            cls(**{n: True})


@pytest.mark.parametrize("cls", CONFIGS)
def test_defaults_are_valid_and_round_trip_through_flat_keys(cls: type[Any]) -> None:
    cfg = cls()
    flat = to_mapping(cfg)
    assert from_mapping(cls, flat) == cfg == cls(**flat_defaults(cls))
    assert from_namespace(cls, {**flat, "unrelated": object()}) == cfg
    assert set(flat) == set(flat_fields(cls))


def test_the_two_cases_of_the_issue() -> None:
    with pytest.raises(ConfigError, match=r"^TakerThreshold: edge_threshold: -1.0 must be >= 0.0$"):
        TakerThreshold(-1, 20.0, 1)
    with pytest.raises(ConfigError, match=r"^GoNoGoConfig: edge_threshold: -1.0 must be >= 0.0$"):
        GoNoGoConfig(edge_threshold=-1)
    with pytest.raises(ConfigError, match=r"^GoNoGoConfig: edge_threshold: -1.0 must be >= 0.0$"):
        dataclasses.replace(GoNoGoConfig(), edge_threshold=-1)


def test_values_are_converted_losslessly_on_construction() -> None:
    t = TakerThreshold(0, 10, 2)  # ints for float fields, as YAML writes them
    assert (t.edge_threshold, t.shares) == (0.0, 10.0) and type(t.shares) is float
    s = SimConfig(intervals=[5])  # a list becomes a tuple: no mutable field
    assert s.intervals == (5,)
    with pytest.raises(ConfigError, match=r"^SimConfig: sigma: nan must be > 0.0$"):
        SimConfig(sigma=float("nan"))


def test_cross_field_checks_run_on_construction() -> None:
    with pytest.raises(ConfigError, match="intervals must be 5 and/or 15 minutes"):
        SimConfig(intervals=(10,))
    with pytest.raises(ConfigError, match=r"belief_step_s \(0.3\) must be a whole number of path steps"):
        dataclasses.replace(SimConfig(), belief_step_s=0.3)
    with pytest.raises(ConfigError, match="not registered features"):
        GoNoGoConfig(vol_features=("vol__nope",))


def test_nested_configs_take_and_show_flat_keys() -> None:
    cfg = GoNoGoConfig(edge_threshold=0.05, days=3.0, run_name="r", min_trades=7, every_s=60.0)
    assert cfg.strategy == TakerThreshold(edge_threshold=0.05)
    assert cfg.world == WorldSpec(days=3.0) and cfg.runner == RunnerParams(run_name="r")
    assert cfg.criteria == GoCriteria(min_trades=7) and cfg.every_s == 60.0
    assert (cfg.edge_threshold, cfg.days, cfg.run_name, cfg.min_trades) == (0.05, 3.0, "r", 7)  # the flat view
    # a nested object and a flat key of it: the flat key wins, the rest of the object is kept
    both = GoNoGoConfig(strategy=TakerThreshold(shares=10.0), edge_threshold=0.1)
    assert both.strategy == TakerThreshold(edge_threshold=0.1, shares=10.0)
    assert dataclasses.replace(cfg, shares=30.0).strategy == TakerThreshold(edge_threshold=0.05, shares=30.0)
    assert to_mapping(cfg)["edge_threshold"] == 0.05 and "strategy" not in to_mapping(cfg)
    with pytest.raises(TypeError, match="unexpected argument 'edge'"):
        GoNoGoConfig(edge=0.1)
    with pytest.raises(AttributeError):
        _ = cfg.no_such_key
    with pytest.raises(ConfigError, match=r"^GoNoGoConfig: strategy: expected TakerThreshold"):
        GoNoGoConfig(strategy=GoCriteria())
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.world = WorldSpec()  # type: ignore[misc]
    assert hash(cfg) == hash(GoNoGoConfig(**to_mapping(cfg)))


def test_an_owner_tightens_a_nested_bound() -> None:
    assert GoNoGoConfig(days=40.0).world.days == 40.0  # WorldSpec allows a year
    with pytest.raises(ConfigError, match=r"^ExploreConfig: days: 40.0 must be <= 31.0$"):
        ExploreConfig(days=40.0)
    with pytest.raises(ConfigError, match=r"^ExploreConfig: days: 40.0 must be <= 31.0$"):
        ExploreConfig(world=WorldSpec(days=40.0))  # the nested object itself is checked by its owner
    with pytest.raises(ConfigError, match=r"^DataFeaturesConfig: days: 40.0 must be <= 31.0$"):
        dataclasses.replace(DataFeaturesConfig(), world=WorldSpec(days=40.0))


def test_validation_runs_even_if_a_subclass_post_init_skips_super() -> None:
    @dataclasses.dataclass(frozen=True)
    class Child(Validated):
        n: int = param(1, ge=1)
        seen: tuple[int, ...] = param(())

        def __post_init__(self) -> None:  # no super().__post_init__()
            object.__setattr__(self, "seen", (self.n,))

    assert Child(2).seen == (2,)
    with pytest.raises(ConfigError, match=r"^Child: n: 0 must be >= 1$"):
        Child(0)


@dataclasses.dataclass(frozen=True)
class _Inner(Validated):
    x: int = param(1)


@dataclasses.dataclass(frozen=True, init=False)
class _Twice(NestedConfig):
    a: _Inner = nested(_Inner)  # noqa: RUF009
    x: int = param(2)


def test_flat_keys_must_be_unique() -> None:
    with pytest.raises(TypeError, match="flat key 'x' is declared twice"):
        flat_fields(_Twice)


def test_nested_bounds_must_be_known_keys() -> None:
    with pytest.raises(TypeError, match="unknown bound"):
        nested(WorldSpec, bounds={"days": {"max": 3}})
    assert typing.get_type_hints(GoNoGoConfig)["strategy"] is TakerThreshold
