"""Label-flip checks: each market's outcome by every label source, and the data-quality report that counts flips.

The outcome of a window comes from its recorded resolution, from the settlement oracle under the rule in force
(:func:`~pmresearch.labels.outcomes.outcomes_from_oracle`) or from the exchange proxy
(:func:`~pmresearch.labels.outcomes.exchange_proxy_outcomes`); DESIGN.md, "Labels". :func:`outcome_sources` reads
a store's markets with the ticks and bars those need and returns the three side by side, one row per market.
:func:`assess_quality_with_labels` is :func:`pmresearch.data.quality.assess_quality` given that table: the full
data-quality assessment (``pmresearch quality``, notebook 05). The data layer counts the flips
(:func:`~pmresearch.data.quality.label_agreement`) but never imports this one.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import pandas as pd

from pmresearch.data.quality import QualityConfig, QualityResult, assess_quality, label_agreement
from pmresearch.data.store import Store
from pmresearch.labels.outcomes import SETTLEMENT_SOURCE, exchange_proxy_outcomes, outcomes_from_oracle

__all__ = ["OutcomeSources", "assess_quality_with_labels", "label_agreement", "outcome_sources"]

#: Oracle ticks read before the first window start (a TWAP settlement averages the ticks before it).
_ORACLE_LOOKBACK = pd.Timedelta(minutes=5)


class OutcomeSources(NamedTuple):
    """The outcome of each market of a store by label source (:func:`outcome_sources`).

    Attributes
    ----------
    table : pandas.DataFrame or None
        Per market: ``slug``, ``interval_minutes``, ``window_start`` and the Int8 outcomes ``recorded``,
        ``oracle``, ``exchange`` (NA where unknown); None when the store holds no markets.
    notes : tuple of str
        Which source could not be computed, and why.
    """

    table: pd.DataFrame | None
    notes: tuple[str, ...]


def _unknown(markets: pd.DataFrame) -> pd.Series:
    """No outcome for any market (Int8 NA indexed by slug)."""
    return pd.Series(pd.NA, index=pd.Index(markets["slug"].astype(str)), dtype="Int8")


def _oracle_outcomes(store: Store, markets: pd.DataFrame, lo: datetime, hi: datetime, notes: list[str]) -> pd.Series:
    """Outcomes recomputed from the settlement feed's ticks over the markets' windows."""
    oracle = store.query("SELECT ts, price, source FROM oracle_prices WHERE source = ? AND feed = 'BTC/USD' "
                         "AND ts >= ? AND ts <= ? ORDER BY ts", [SETTLEMENT_SOURCE, lo, hi])
    if oracle.empty:
        notes.append(f"no {SETTLEMENT_SOURCE} ticks over the markets' windows: no oracle outcomes")
        return _unknown(markets)
    return outcomes_from_oracle(markets, oracle.assign(ts=pd.to_datetime(oracle["ts"], utc=True)))


def _exchange_outcomes(store: Store, markets: pd.DataFrame, lo: datetime, hi: datetime, notes: list[str]) -> pd.Series:
    """Exchange-proxy outcomes from the BTCUSDT 1-minute klines over the markets' windows."""
    klines = store.query("SELECT ts, open, close, source FROM spot_prices WHERE symbol = 'BTCUSDT' AND "
                         "\"interval\" = '1m' AND ts >= ? AND ts <= ? ORDER BY ts, source", [lo, hi])
    if klines.empty:
        notes.append("no BTCUSDT 1m klines over the markets' windows: no exchange outcomes")
        return _unknown(markets)
    return exchange_proxy_outcomes(markets, klines.assign(ts=pd.to_datetime(klines["ts"], utc=True)))


def outcome_sources(store: Store) -> OutcomeSources:
    """Each market's outcome as recorded, from the settlement oracle and from the exchange proxy.

    Parameters
    ----------
    store : Store
        The store (read-only): its markets, the settlement feed's BTC/USD ticks and the BTCUSDT 1-minute klines
        over their windows.

    Returns
    -------
    OutcomeSources
        The per-market table (None without markets) and notes on what could not be computed.
    """
    cols = ["slug", "interval_minutes", "window_start", "window_end", "outcome_up"]
    markets = store.query(f"SELECT {', '.join(cols)} FROM polymarket_resolutions ORDER BY window_start, slug")
    if markets.empty:
        return OutcomeSources(None, ("no markets in the store: no label comparison",))
    notes: list[str] = []
    markets = markets.assign(window_start=pd.to_datetime(markets["window_start"], utc=True),
                             window_end=pd.to_datetime(markets["window_end"], utc=True),
                             interval_minutes=markets["interval_minutes"].astype("int64"))
    lo = (markets["window_start"].min() - _ORACLE_LOOKBACK).to_pydatetime()
    hi = markets["window_end"].max().to_pydatetime()
    from_oracle = _oracle_outcomes(store, markets, lo, hi, notes)
    proxy = _exchange_outcomes(store, markets, lo, hi, notes)
    table = pd.DataFrame({
        "slug": markets["slug"].astype(str).to_numpy(),
        "interval_minutes": markets["interval_minutes"].to_numpy(),
        "window_start": markets["window_start"].to_numpy(),
        "recorded": pd.array(markets["outcome_up"].to_numpy(), dtype="Int8"),
        "oracle": pd.array(from_oracle.to_numpy(), dtype="Int8"),
        "exchange": pd.array(proxy.to_numpy(), dtype="Int8"),
    })
    return OutcomeSources(table, tuple(notes))


def assess_quality_with_labels(store: Store, config: QualityConfig | None = None) -> QualityResult:
    """The full data-quality assessment of ``store``: :func:`~pmresearch.data.quality.assess_quality` with the
    label flips between the outcome sources of its markets (:func:`outcome_sources`).

    Parameters
    ----------
    store : Store
        A DuckDB or PostgreSQL store (read-only).
    config : QualityConfig, optional
        Thresholds (:class:`~pmresearch.data.quality.QualityConfig`).

    Returns
    -------
    QualityResult
        With :attr:`~pmresearch.data.quality.QualityResult.labels` and ``label_agreement`` filled.
    """
    sources = outcome_sources(store)
    return assess_quality(store, config, labels=sources.table, label_notes=sources.notes)
