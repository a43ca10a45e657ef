"""Frozen dataclass configs, validated on construction, built from mappings (YAML, notebook parameters).

A config class is a frozen dataclass inheriting :class:`Validated` whose fields may carry bounds through
:func:`param`::

    @dataclass(frozen=True)
    class Cfg(Validated):
        days: int = param(7, ge=1, doc="simulated days")
        preset: str = param("edge", choices=("edge", "no-edge"))

    Cfg(days=0)                                              # ConfigError: Cfg: days: 0 must be >= 1
    cfg = from_mapping(Cfg, {"days": 3}, what="params/04_go_no_go/ci.yaml")

The declarations are the one source of truth (the pattern of scikit-learn's ``_parameter_constraints``
and of ``arch``'s checks in ``__init__``): the constructor, :func:`from_mapping`, :func:`from_namespace`
and :func:`dataclasses.replace` all check types, ranges and allowed values through them. Unknown keys,
wrong types and out-of-range values raise :class:`ConfigError` naming the source, the key and the
bound. Ints are accepted for float fields (YAML writes ``1`` for ``1.0``); bools are never numbers.

Nested configs
--------------
A field declared with :func:`nested` holds another config (a group of fields used together, e.g. a
strategy's parameters). A :class:`NestedConfig` takes the leaves of its nested configs as flat
keyword arguments and reads them as flat attributes, so a notebook's flat ``parameters`` cell and a
flat params file keep working::

    @dataclass(frozen=True, init=False)
    class Run(NestedConfig):
        strategy: Strategy = nested(Strategy)
        min_trades: int = param(200, ge=1)

    Run(edge_threshold=0.05).strategy.edge_threshold       # 0.05
    Run(edge_threshold=0.05).edge_threshold                # 0.05, the flat view
    to_mapping(Run())                                      # flat: {"edge_threshold": ..., "min_trades": 200}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import numbers
import operator
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar, cast, get_args, get_origin

import yaml

__all__ = [
    "ConfigError", "NestedConfig", "RunnerParams", "Validated", "check_bounds", "flat_defaults", "flat_fields",
    "from_mapping", "from_namespace", "load_yaml", "nested", "param", "to_mapping", "validate",
]

T = TypeVar("T")

_BOUND_KEYS = ("ge", "gt", "le", "lt", "choices")


class ConfigError(ValueError):
    """A configuration value or mapping does not fit its config class."""


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


def nested(cls: type[Any], *, doc: str = "", bounds: Mapping[str, Mapping[str, Any]] | None = None,
           **defaults: Any) -> Any:
    """A field holding the config ``cls`` (default: ``cls(**defaults)``).

    ``bounds`` tightens the bounds of some of its leaves for this use (``{"days": {"le": 31.0}}``): the
    owner's validation checks them, with the leaf's own bounds, on every entry path.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"nested: {cls!r} is not a dataclass")
    tight = {k: dict(v) for k, v in (bounds or {}).items()}
    for leaf, extra in tight.items():
        bad = sorted(set(extra) - set(_BOUND_KEYS))
        if bad:
            raise TypeError(f"nested({cls.__name__}): unknown bound(s) {bad} for {leaf!r}")
    factory = functools.partial(cls, **defaults) if defaults else cls
    meta = {"nested": True, "doc": doc, "bounds": types.MappingProxyType(tight)}
    return dataclasses.field(default_factory=factory, metadata=meta)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _check_type(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` converted to ``tp`` where lossless (int -> float, list -> tuple) or raise."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        for arg in get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _check_type(value, arg, where)
            except ConfigError:
                pass
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
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError(f"{where}: expected an integer, got {type(value).__name__} {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
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


def check_bounds(value: Any, meta: Mapping[str, Any], where: str) -> None:
    """Raise :class:`ConfigError` if ``value`` is not among ``meta["choices"]`` or breaks a numeric bound
    (``ge``, ``gt``, ``le``, ``lt``); the message names ``where`` and the bound. NaN breaks every bound."""
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


_check_bounds = check_bounds  # the former private name


class Leaf(NamedTuple):
    """A flat key of a config class: the path of field names to it, its type and its merged bounds."""

    path: tuple[str, ...]
    hint: Any
    meta: Mapping[str, Any]
    field: dataclasses.Field[Any]


def _is_nested(f: dataclasses.Field[Any]) -> bool:
    return bool(f.metadata.get("nested"))


def _nested_class(owner: type[Any], f: dataclasses.Field[Any]) -> type[Any]:
    hint = _hints(owner)[f.name]
    if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
        raise TypeError(f"{owner.__name__}.{f.name}: a nested field must be annotated with a dataclass")
    return hint


_HINTS: dict[Any, dict[str, Any]] = {}
_FLAT: dict[Any, Mapping[str, Leaf]] = {}


def _hints(cls: Any) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def flat_fields(cls: Any) -> Mapping[str, Leaf]:
    """The flat keys of config class ``cls``: its own fields and, for each :func:`nested` field, the flat
    keys of the nested class (recursively), in declaration order.

    Raises
    ------
    TypeError
        If two leaves share a name (flat keys must be unique).
    """
    if cls in _FLAT:
        return _FLAT[cls]
    out: dict[str, Leaf] = {}
    for f in dataclasses.fields(cls):
        if _is_nested(f):
            sub = _nested_class(cls, f)
            tight = f.metadata.get("bounds", {})
            items = [(name, Leaf((f.name, *leaf.path), leaf.hint,
                                 types.MappingProxyType({**leaf.meta, **tight.get(name, {})}), leaf.field))
                     for name, leaf in flat_fields(sub).items()]
        else:
            items = [(f.name, Leaf((f.name,), _hints(cls)[f.name], f.metadata, f))]
        for name, leaf in items:
            if name in out:
                raise TypeError(f"{cls.__name__}: flat key {name!r} is declared twice ({out[name].path}, {leaf.path})")
            out[name] = leaf
    _FLAT[cls] = types.MappingProxyType(out)
    return _FLAT[cls]


def flat_defaults(cls: type[Any]) -> dict[str, Any]:
    """The default of every flat key of ``cls`` (what a notebook's ``parameters`` cell must declare)."""
    return to_mapping(cls(), lists=False)


def validate(cfg: Any, *, what: str | None = None) -> None:
    """Check every field of the dataclass ``cfg`` against its declaration (type, bounds, choices),
    converting lossless values in place (int -> float, list -> tuple); a nested config's leaves are also
    checked against the bounds its owner tightens.

    Raises
    ------
    ConfigError
        Naming ``what`` (default: the class name), the field and the type or bound it breaks.
    """
    cls = type(cfg)
    where = what or cls.__name__
    hints = _hints(cls)
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        checked = _check_type(value, hints[f.name], f"{where}: {f.name}")
        check_bounds(checked, f.metadata, f"{where}: {f.name}")
        if checked is not value:
            object.__setattr__(cfg, f.name, checked)
    for name, leaf in flat_fields(cls).items():
        if len(leaf.path) > 1 and any(leaf.meta.get(k) is not None for k in _BOUND_KEYS):
            check_bounds(_get_path(cfg, leaf.path), leaf.meta, f"{where}: {name}")


def _get_path(cfg: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        cfg = getattr(cfg, name)
    return cfg


class Validated:
    """Base of the config dataclasses: every construction (``Cls(...)``, :func:`from_mapping`,
    :func:`dataclasses.replace`) validates the fields (:func:`validate`).

    A subclass's own ``__post_init__`` (cross-field checks) runs after the field checks, whether or not
    it calls ``super().__post_init__()``.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__post_init__")
        if own is not None and not getattr(own, "_validates", False):
            def __post_init__(self: Any, _own: Callable[[Any], None] = own) -> None:
                validate(self)
                _own(self)

            setattr(__post_init__, "_validates", True)  # noqa: B010 - a mark on a function
            __post_init__.__doc__ = own.__doc__
            setattr(cls, "__post_init__", __post_init__)  # noqa: B010 - replaces the subclass's own

    def __post_init__(self) -> None:
        validate(self)


def _with_flat(child: Any, changes: Mapping[str, Any]) -> Any:
    """``child`` (a config) with flat-key ``changes`` applied, validated."""
    if not changes:
        return child
    if isinstance(child, NestedConfig):
        current = {f.name: getattr(child, f.name) for f in dataclasses.fields(cast(Any, child))}
        return type(child)(**current, **changes)
    return dataclasses.replace(child, **changes)


class NestedConfig(Validated):
    """A config with :func:`nested` fields, built from its fields or from the flat keys of its leaves.

    Declare subclasses with ``@dataclass(frozen=True, init=False)``: the constructor is this class's,
    which takes keyword arguments only, each a field of the class (a nested config object) or a flat
    key (:func:`flat_fields`) that lands in its nested config. Flat keys are also readable as
    attributes (``cfg.edge_threshold`` for ``cfg.strategy.edge_threshold``).
    """

    def __init__(self, **kwargs: Any) -> None:
        cls: Any = type(self)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        leaves = flat_fields(cls)
        direct: dict[str, Any] = {}
        flat: dict[str, dict[str, Any]] = {}
        for key, value in kwargs.items():
            if key in fields:
                direct[key] = value
            elif key in leaves:
                flat.setdefault(leaves[key].path[0], {})[key] = value
            else:
                raise TypeError(f"{cls.__name__}: unexpected argument {key!r}; valid flat keys are {sorted(leaves)}")
        for name, f in fields.items():
            if name in direct:
                value = direct[name]
            elif f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                raise TypeError(f"{cls.__name__}: missing required argument {name!r}")
            if _is_nested(f) and name in flat:
                sub = _nested_class(cls, f)
                if not isinstance(value, sub):
                    raise ConfigError(f"{cls.__name__}: {name}: expected {sub.__name__}, got "
                                      f"{type(value).__name__} {value!r}")
                try:
                    value = _with_flat(value, flat[name])
                except ConfigError as exc:
                    raise ConfigError(f"{cls.__name__}: {_strip_owner(str(exc))}") from exc
            object.__setattr__(self, name, value)
        self.__post_init__()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        leaf = flat_fields(type(self)).get(name)
        if leaf is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return _get_path(self, leaf.path)


def _strip_owner(message: str) -> str:
    """``"TakerThreshold: shares: ..."`` -> ``"shares: ..."`` (the owner names itself instead)."""
    head, sep, rest = message.partition(": ")
    return rest if sep and head.isidentifier() and head[:1].isupper() else message


def from_mapping(cls: type[T], data: Mapping[str, Any], *, what: str = "config") -> T:
    """Build the config ``cls`` from a flat mapping ``data``, validating keys, types and bounds.

    The keys are the flat keys of ``cls`` (:func:`flat_fields`: its fields, and the leaves of its nested
    configs). The values are checked here, with ``what`` in the message, through the same declarations
    the constructor then checks again.

    Raises
    ------
    ConfigError
        On an unknown key (listing the valid ones), a wrong type or an out-of-range value.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    leaves = flat_fields(cls)
    unknown = sorted(set(data) - set(leaves))
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {unknown}; valid keys are {sorted(leaves)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        where = f"{what}: {name}"
        checked = _check_type(value, leaves[name].hint, where)
        check_bounds(checked, leaves[name].meta, where)
        values[name] = checked
    for name, leaf in leaves.items():
        f = leaf.field
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{what}: missing required key {name!r}")
    try:
        return cls(**values)
    except ConfigError as exc:
        raise ConfigError(f"{what}: {_strip_owner(str(exc))}") from exc


def to_mapping(cfg: Any, *, lists: bool = True) -> dict[str, Any]:
    """The config as a flat dict of its flat keys (tuples become lists unless ``lists=False``), for YAML/JSON."""
    out: dict[str, Any] = {}
    for name, leaf in flat_fields(type(cfg)).items():
        v = _get_path(cfg, leaf.path)
        out[name] = list(v) if lists and isinstance(v, tuple) else v
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
    """Build ``cls`` from the variables of ``namespace`` named like its flat keys (a notebook's globals).

    Keys missing from the namespace keep their defaults; validation is :func:`from_mapping`'s.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    return from_mapping(cls, {n: namespace[n] for n in flat_fields(cls) if n in namespace}, what=what)


@dataclass(frozen=True)
class RunnerParams(Validated):
    """The runner keys every notebook accepts (DESIGN.md: ``run_name``, ``data_dir``, ``db``)."""

    run_name: str = param("default", doc="name of the run (report file stem)")
    data_dir: str = param("", doc="data directory to read; empty: simulate a world")
    db: str = param("", doc="store URL or .duckdb path; empty: a fresh store per run")
