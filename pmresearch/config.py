"""Frozen dataclass configs built from mappings (YAML, notebook parameters) with strict validation.

A config class is a frozen dataclass whose fields may carry bounds through :func:`param`::

    @dataclass(frozen=True)
    class Cfg:
        days: int = param(7, ge=1, doc="simulated days")
        preset: str = param("edge", choices=("edge", "no-edge"))

    cfg = from_mapping(Cfg, {"days": 3}, what="params/04_go_no_go/ci.yaml")

Unknown keys, wrong types and out-of-range values raise :class:`ConfigError` naming the source and
the key. Ints are accepted for float fields (YAML writes ``1`` for ``1.0``); bools are never numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import yaml

__all__ = ["ConfigError", "RunnerParams", "from_mapping", "from_namespace", "load_yaml", "param", "to_mapping"]

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration mapping does not fit its config class."""


def param(
    default: Any,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | None = None,
    doc: str = "",
) -> Any:
    """A dataclass field with a default, optional numeric bounds, allowed choices and a description."""
    meta = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "doc": doc}
    if isinstance(default, list | dict | set):
        raise TypeError("param: use a tuple (immutable) as the default of a sequence field")
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check_type(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` converted to ``tp`` where lossless (int -> float, list -> tuple) or raise."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        errors = []
        for arg in get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _check_type(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} is not {_type_name(tp)}")
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check_type(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_check_type(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(args, value, strict=True)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {type(value).__name__} {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is str:
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()  # YAML turns 2026-06-15 into a date
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
        return value
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {type(value).__name__} {value!r}")
    return value


def _check_bounds(value: Any, meta: Mapping[str, Any], where: str) -> None:
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ConfigError(f"{where}: {value!r} is not one of {list(choices)}")
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return
    for key, ok, word in (
        ("ge", operator.ge, ">="),
        ("gt", operator.gt, ">"),
        ("le", operator.le, "<="),
        ("lt", operator.lt, "<"),
    ):
        bound = meta.get(key)
        if bound is not None and not ok(value, bound):
            raise ConfigError(f"{where}: {value!r} must be {word} {bound}")


def from_mapping(cls: type[T], data: Mapping[str, Any], *, what: str = "config") -> T:
    """Build the frozen dataclass ``cls`` from ``data``, validating keys, types and bounds.

    Raises
    ------
    ConfigError
        On an unknown key (listing the valid ones), a wrong type or an out-of-range value.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {unknown}; valid keys are {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in data.items():
        where = f"{what}: {name}"
        checked = _check_type(value, hints[name], where)
        _check_bounds(checked, fields[name].metadata, where)
        values[name] = checked
    for name, f in fields.items():
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{what}: missing required key {name!r}")
        if name not in values and f.default is not dataclasses.MISSING:
            _check_bounds(f.default, f.metadata, f"{what}: {name} (default)")
    return cls(**values)


def to_mapping(cfg: Any) -> dict[str, Any]:
    """The config as a plain dict (tuples become lists), suitable for YAML/JSON."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; an empty file is ``{}``; anything but a mapping is a :class:`ConfigError`."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of keys to values, got {type(data).__name__}")
    return data


def from_namespace(cls: type[T], namespace: Mapping[str, Any], *, what: str = "parameters") -> T:
    """Build ``cls`` from the variables of ``namespace`` named like its fields (a notebook's globals).

    Fields missing from the namespace keep their defaults; validation is :func:`from_mapping`'s.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    names = [f.name for f in dataclasses.fields(cls)]
    return from_mapping(cls, {n: namespace[n] for n in names if n in namespace}, what=what)


@dataclass(frozen=True)
class RunnerParams:
    """The runner keys every notebook accepts (DESIGN.md: ``run_name``, ``data_dir``, ``db``)."""

    run_name: str = param("default", doc="name of the run (report file stem)")
    data_dir: str = param("", doc="data directory to read; empty: simulate a world")
    db: str = param("", doc="store URL or .duckdb path; empty: a fresh store per run")
