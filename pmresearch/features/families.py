"""The default feature registry, built from one explicit list of the family modules' blocks.

No family registers itself on import (the pattern of scikit-learn and ``arch``: components are
passed in). Each family module lists its blocks in ``BLOCKS``; :data:`DEFAULT_BLOCKS` concatenates
those lists in a fixed order and :func:`default_registry` builds a fresh
:class:`~pmresearch.features.registry.FeatureRegistry` from it. :data:`REGISTRY` is the one the
functions of :mod:`pmresearch.features` use by default (re-exported as
``pmresearch.features.REGISTRY``); code that needs other features (a test planting a block)
builds its own registry instead of changing this one::

    registry = default_registry()
    registry.register(make_block("extra", "extra", fn, [...], inputs=("spot_1m",)))
    compute_features(rows, inputs, registry=registry)
"""

from __future__ import annotations

from pmresearch.features.contract import BLOCKS as CONTRACT
from pmresearch.features.cross_asset import BLOCKS as CROSS_ASSET
from pmresearch.features.microstructure import BLOCKS as MICROSTRUCTURE
from pmresearch.features.price import BLOCKS as PRICE
from pmresearch.features.registry import Block, FeatureRegistry
from pmresearch.features.technical import BLOCKS as TECHNICAL
from pmresearch.features.temporal import BLOCKS as TEMPORAL
from pmresearch.features.vol_sources import BLOCKS as VOL_SOURCES
from pmresearch.features.volatility import BLOCKS as VOLATILITY
from pmresearch.features.volume import BLOCKS as VOLUME

__all__ = ["DEFAULT_BLOCKS", "REGISTRY", "default_registry"]

#: Every default block, in registration order (the order of the catalog within a family).
DEFAULT_BLOCKS: tuple[Block, ...] = (
    *PRICE,
    *VOLATILITY,
    *CROSS_ASSET,
    *CONTRACT,
    *MICROSTRUCTURE,
    *TECHNICAL,
    *TEMPORAL,
    *VOL_SOURCES,
    *VOLUME,
)


def default_registry() -> FeatureRegistry:
    """A new registry holding :data:`DEFAULT_BLOCKS` (changing it leaves :data:`REGISTRY` alone)."""
    return FeatureRegistry(DEFAULT_BLOCKS)


#: The default registry of :mod:`pmresearch.features`.
REGISTRY = default_registry()
