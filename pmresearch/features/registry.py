"""The feature registry: every feature's name, family, inputs, look-back, lag and units.

Features are computed in *blocks*: one function computes several related features in one
vectorized pass over its input (e.g. all 1-minute price features from one bar grid). A block
carries its :class:`FeatureSpec` rows; a :class:`FeatureRegistry` is built from an explicit list of
blocks and maps feature names to them. Nothing registers itself on import: each family module lists
its blocks in ``BLOCKS`` and :func:`pmresearch.features.families.default_registry` builds the default
registry (:data:`pmresearch.features.REGISTRY`) from those lists. Names are ``<family>__<name>``
(DESIGN.md). Every feature at decision time ``t`` uses only rows whose knowledge time is ``<= t - lag``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from pmresearch._typing import FloatArray

if TYPE_CHECKING:
    from pmresearch.features.context import FeatureContext

__all__ = ["INPUT_NAMES", "Block", "BlockFn", "FeatureRegistry", "FeatureSpec", "feature_table", "make_block"]

#: Names an input may have in a spec: FeatureInputs fields, ``rows`` (the decision rows' own
#: columns: t, strike, spot, tau_s, slug) and ``external``.
INPUT_NAMES = ("spot_1m", "spot_1s", "eth_1m", "quotes", "books", "trades", "oracle", "rows", "external")

#: A block function: context in, ``{feature name: float64 array aligned with ctx.rows}`` out.
BlockFn = Callable[["FeatureContext"], Mapping[str, FloatArray]]


@dataclass(frozen=True)
class FeatureSpec:
    """One registered feature.

    Attributes
    ----------
    name : str
        ``<family>__<name>``.
    family : str
        Feature family (one module of :mod:`pmresearch.features` each).
    inputs : tuple of str
        What it reads (names of :data:`INPUT_NAMES`).
    lookback : Timedelta
        How far back before ``t - lag`` its data reaches (EWM-based indicators: the span that
        carries ~95% of the weight; their value still depends, ever less, on older data).
    lag : Timedelta
        The feature at ``t`` uses data known up to ``t - lag``.
    units : str
        Units of the value.
    description : str
        One line on what it is.
    block : str
        The block computing it.
    """

    name: str
    family: str
    inputs: tuple[str, ...]
    lookback: pd.Timedelta
    lag: pd.Timedelta
    units: str
    description: str
    block: str


@dataclass(frozen=True)
class Block:
    """A function computing several features in one pass, with their specs."""

    name: str
    family: str
    fn: BlockFn
    specs: tuple[FeatureSpec, ...]
    lag: pd.Timedelta

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names computed by this block."""
        return tuple(s.name for s in self.specs)


#: One feature of a block: ``(short name, lookback, units, description)``.
FeatureRow = tuple[str, str, str, str]


def feature_table(table: str) -> tuple[FeatureRow, ...]:
    """The rows of a feature table written as text, one feature a line, cells separated by ``|``.

    The family modules list their features this way (blank lines are skipped)::

        rsi_1m | 42min | 0-100 | Wilder RSI(14) of 1-minute bars

    Raises
    ------
    ValueError
        On a line without exactly four non-empty cells (naming the line).
    """
    rows: list[FeatureRow] = []
    for number, line in enumerate(table.splitlines(), start=1):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) != 4 or not all(cells):
            raise ValueError(f"feature table, line {number}: expected 'name | lookback | units | description', "
                             f"got {line.strip()!r}")
        rows.append((cells[0], cells[1], cells[2], cells[3]))
    return tuple(rows)


def make_block(
    name: str, family: str, fn: BlockFn, features: Sequence[FeatureRow],
    *, inputs: Sequence[str], lag: pd.Timedelta | str = "0s",
) -> Block:
    """Build a :class:`Block` from ``(short name, lookback, units, description)`` tuples.

    Feature names become ``<family>__<short name>``; ``lookback`` is a Timedelta string.
    """
    bad = [i for i in inputs if i not in INPUT_NAMES]
    if bad:
        raise ValueError(f"block {name!r}: unknown inputs {bad}; expected some of {INPUT_NAMES}")
    lag_td = pd.Timedelta(lag)
    if lag_td < pd.Timedelta(0):
        raise ValueError(f"block {name!r}: lag must be >= 0, got {lag_td}")
    specs = tuple(
        FeatureSpec(name=f"{family}__{short}", family=family, inputs=tuple(inputs), lookback=pd.Timedelta(lb),
                    lag=lag_td, units=units, description=desc, block=name)
        for short, lb, units, desc in features
    )
    return Block(name=name, family=family, fn=fn, specs=specs, lag=lag_td)


class FeatureRegistry(Mapping[str, FeatureSpec]):
    """Feature name -> :class:`FeatureSpec`, in registration order, plus the blocks computing them.

    Parameters
    ----------
    blocks : iterable of Block, optional
        Registered in the order given (see :meth:`register`); a registry is built from an explicit
        list (e.g. :func:`pmresearch.features.families.default_registry`), never filled on import.
    """

    def __init__(self, blocks: Iterable[Block] = ()) -> None:
        self._specs: dict[str, FeatureSpec] = {}
        self._blocks: dict[str, Block] = {}
        for block in blocks:
            self.register(block)

    def __getitem__(self, name: str) -> FeatureSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"unknown feature {name!r}; see pmresearch.features.catalog()") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __repr__(self) -> str:
        return f"FeatureRegistry({len(self._specs)} features in {len(self._blocks)} blocks)"

    @property
    def blocks(self) -> Mapping[str, Block]:
        """Registered blocks by name."""
        return dict(self._blocks)

    def register(self, block: Block) -> Block:
        """Add a block; its feature names must be new and prefixed by its family."""
        if block.name in self._blocks:
            raise ValueError(f"block {block.name!r} is already registered")
        for spec in block.specs:
            if spec.name in self._specs:
                raise ValueError(f"feature {spec.name!r} is already registered (block {self._specs[spec.name].block})")
            if not spec.name.startswith(f"{spec.family}__") or len(spec.name) <= len(spec.family) + 2:
                raise ValueError(f"feature {spec.name!r} must be named <family>__<name> with family {spec.family!r}")
        self._blocks[block.name] = block
        for spec in block.specs:
            self._specs[spec.name] = spec
        return block

    def unregister(self, block_name: str) -> None:
        """Remove a block and its features."""
        block = self._blocks.pop(block_name)
        for spec in block.specs:
            self._specs.pop(spec.name, None)

    def block_of(self, name: str) -> Block:
        """The block computing feature ``name``."""
        return self._blocks[self[name].block]

    def families(self) -> list[str]:
        """Families in registration order."""
        return list(dict.fromkeys(s.family for s in self._specs.values()))

    def resolve(self, names: Sequence[str]) -> list[Block]:
        """The blocks needed for ``names`` (each once, in registration order)."""
        needed = {self.block_of(n).name for n in names}
        return [b for k, b in self._blocks.items() if k in needed]

    def to_records(self) -> list[dict[str, Any]]:
        """Specs as plain dicts."""
        return [s.__dict__.copy() for s in self._specs.values()]

