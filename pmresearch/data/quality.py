"""Data-quality assessment of a store: completeness, gaps, anomalies, spreads, clock offsets, label flips.

:func:`assess_quality` reads a :class:`~pmresearch.data.store.Store` (read-only) and returns a
:class:`QualityResult`: frozen tables that ``pmresearch quality`` renders as an HTML report
(:mod:`pmresearch.reports.quality`). Every number comes from :mod:`pmresearch.data.cleaning`;
nothing here modifies the store.

Labels. The outcome of a market by each label source is the labels layer's knowledge, and ``data``
never imports ``labels`` (DESIGN.md: imports point downward). So the label-flip tables are passed
in: :func:`pmresearch.labels.outcome_sources` recomputes each market's outcome from the oracle and
the exchange proxy, and :func:`pmresearch.labels.assess_quality_with_labels` (what ``pmresearch
quality`` and the 05 notebook call) gives them to :func:`assess_quality`, which counts the flips
with :func:`label_agreement`. Called alone, :func:`assess_quality` leaves the label tables empty and
says so in its notes.

Series. Each time series of the store is one row of :attr:`QualityResult.series`: klines per
(symbol, interval, source), oracle rounds per source, trades per (venue, symbol) (Polymarket trades
as one series per venue), quotes per market interval, L2 snapshots per token. A series is *regular*
when its nominal step is known (kline bars) or when at least half its spacings equal the median
spacing (a 1 Hz oracle); completeness is then rows / expected steps inside the series' own span,
clipped to each UTC day. Irregular series (trades, push oracles, quotes, books) have no expected
count: their *coverage* is the share of their span not inside a gap. Quotes and books are gapped
per market / token, so the time between two markets is never a gap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import cast

import pandas as pd

from pmresearch._paths import display_path
from pmresearch._summary import Summary, SummaryMixin
from pmresearch.data._quality_tables import (
    ANOMALY_COLS,
    OFFSET_COLS,
    READERS,
    Found,
    clock_skew_table,
    series_tables,
    spread_by_hour,
    utc,
)
from pmresearch.data.cleaning import receipt_offset
from pmresearch.data.store import Store

__all__ = ["QualityConfig", "QualityResult", "assess_quality", "collector_clock_offsets", "label_agreement"]

_SECONDS = {n: pd.Timedelta(seconds=n) for n in (1, 2, 10, 30, 60)}  # immutable defaults of QualityConfig

#: The per-market outcome table :func:`assess_quality` takes as ``labels``.
_LABEL_COLS = ["slug", "interval_minutes", "window_start", "recorded", "oracle", "exchange"]
_NOT_ASSESSED = ("label flips: not assessed (pmresearch.labels.assess_quality_with_labels compares the outcome "
                 "sources)")


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds of the quality assessment (all declared, none hidden).

    Attributes
    ----------
    stale_after : pandas.Timedelta
        A quote whose best bid/ask has not changed for longer is ``stale``.
    wide_spread : float
        A quote wider than this (ask - bid) is ``wide``.
    jump, jump_within : float, pandas.Timedelta
        A price moving more than ``jump`` (relative) within ``jump_within`` is a ``jump``.
    k_sigma, sigma_window : float, int
        A return beyond ``k_sigma`` times the standard deviation of the previous ``sigma_window``
        returns is a ``sigma`` anomaly.
    gap_factor : float
        Regular series: a spacing above ``gap_factor`` steps is a gap.
    irregular_gap_factor, min_gap : float, pandas.Timedelta
        Irregular series: a spacing above ``irregular_gap_factor`` median spacings and above
        ``min_gap`` is a gap.
    skew_step, skew_max_lag, skew_tolerance : pandas.Timedelta
        The lag grid of the exchange-vs-oracle clock-skew estimate and its tolerance.
    receipt_quantile : float
        Quantile used by :func:`~pmresearch.data.cleaning.receipt_offset`.
    max_gaps_listed : int
        The longest gaps listed per series (all are counted).
    """

    stale_after: pd.Timedelta = _SECONDS[30]
    wide_spread: float = 0.10
    jump: float = 0.05
    jump_within: pd.Timedelta = _SECONDS[1]
    k_sigma: float = 8.0
    sigma_window: int = 300
    gap_factor: float = 1.5
    irregular_gap_factor: float = 20.0
    min_gap: pd.Timedelta = _SECONDS[10]
    skew_step: pd.Timedelta = _SECONDS[1]
    skew_max_lag: pd.Timedelta = _SECONDS[60]
    skew_tolerance: pd.Timedelta = _SECONDS[2]
    receipt_quantile: float = 0.01
    max_gaps_listed: int = 50


@dataclass(frozen=True)
class QualityResult(SummaryMixin):
    """The quality assessment of one store (see :func:`assess_quality`).

    Attributes
    ----------
    source : str
        The store URL (without credentials).
    counts : mapping of str to int
        Rows per canonical table (read-only).
    series : pandas.DataFrame
        One row per time series: ``series``, ``table``, ``regular``, ``step_s``, ``first``,
        ``last``, ``rows``, ``gaps``, ``missing``, ``gap_s`` (time left uncovered by gaps: each gap's
        duration beyond one step), ``coverage`` (1 - ``gap_s`` / span).
    completeness : pandas.DataFrame
        Per series and UTC ``day``: ``rows``, ``expected`` (regular series), ``completeness``,
        ``coverage``. Markets: windows expected between the first and last of the day.
    gaps : pandas.DataFrame
        The longest gaps per series: ``series``, ``where`` (the market or token, for quotes and
        books), ``start``, ``end``, ``duration_s``, ``missing``.
    anomalies : pandas.DataFrame
        Per series and ``flag``: ``count``, ``rows`` checked, ``share``.
    spread_by_hour : pandas.DataFrame
        Up-token spread by UTC hour: ``source`` (``quotes 5m`` ..., ``books``), ``hour``, ``n``,
        ``median``, ``mean``, ``p90``, ``one_sided_share``.
    clock_skew : pandas.DataFrame
        Per oracle source: ``reference`` (exchange series), ``target``, ``lag_s``, ``correlation``,
        ``correlation_at_zero``, ``n``, ``tolerance_s``, ``within_tolerance``.
    skew_curves : mapping of str to pandas.Series
        Correlation by lag (seconds) for each row of :attr:`clock_skew` (key ``target``; read-only).
    receipt_offsets : pandas.DataFrame
        Per collector with receipt stamps: ``table``, ``collector``, ``n``, ``share_early``,
        ``offset_s`` (add to ``received_at``; what DESIGN.md's knowledge time uses),
        ``median_latency_s`` (recorded) and ``corrected_median_latency_s``.
    labels : pandas.DataFrame
        Per market: ``slug``, ``interval_minutes``, ``window_start``, ``recorded``, ``oracle``,
        ``exchange`` (Int8, NA when unknown); empty unless the labels layer provided it
        (:func:`pmresearch.labels.assess_quality_with_labels`).
    label_agreement : pandas.DataFrame
        Per comparison and ``interval_minutes`` (``all`` too): ``n`` (both known), ``flips``,
        ``flip_rate`` (:func:`label_agreement` of :attr:`labels`).
    notes : tuple of str
        What could not be computed and why.
    config : QualityConfig
        The thresholds used.
    """

    source: str
    counts: Mapping[str, int]
    series: pd.DataFrame
    completeness: pd.DataFrame
    gaps: pd.DataFrame
    anomalies: pd.DataFrame
    spread_by_hour: pd.DataFrame
    clock_skew: pd.DataFrame
    skew_curves: Mapping[str, pd.Series]
    receipt_offsets: pd.DataFrame
    labels: pd.DataFrame
    label_agreement: pd.DataFrame
    notes: tuple[str, ...] = ()
    config: QualityConfig = field(default_factory=QualityConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", MappingProxyType(dict(self.counts)))
        object.__setattr__(self, "skew_curves", MappingProxyType(dict(self.skew_curves)))
        object.__setattr__(self, "notes", tuple(self.notes))

    @cached_property
    def clock_offsets(self) -> Mapping[str, pd.Timedelta]:
        """Collector -> clock offset (read-only), as :meth:`Store.as_of` takes it (``clock_offsets=``)."""
        return MappingProxyType({str(r.collector): pd.Timedelta(float(cast(float, r.offset_s)), unit="s")
                                 for r in self.receipt_offsets.itertuples()})

    def summary(self) -> Summary:
        """Rows per table, series coverage, flagged anomalies, clock skew, collector offsets and label flips.

        Returns
        -------
        Summary
            Tables ``rows`` (per canonical table), ``series`` (rows, gaps, uncovered seconds, coverage),
            ``anomalies`` (the flags raised at least once), ``clock skew``, ``collector clock offsets`` and
            ``label flips`` (over all intervals); the notes are :attr:`notes`.
        """
        flagged = self.anomalies[self.anomalies["count"] > 0]
        flips = self.label_agreement[self.label_agreement["interval_minutes"] == "all"]
        tables = (
            ("rows", pd.DataFrame({"rows": pd.Series(dict(self.counts), dtype="int64")})),
            ("series", self.series.set_index("series")[["rows", "gaps", "gap_s", "coverage"]]),
            ("anomalies", flagged.set_index(["series", "flag"])[["count", "rows", "share"]]),
            ("clock skew", self.clock_skew.set_index("target")[
                ["reference", "lag_s", "correlation", "tolerance_s", "within_tolerance"]]),
            ("collector clock offsets", self.receipt_offsets.set_index("collector")[
                ["table", "offset_s", "share_early", "n"]]),
            ("label flips", flips.set_index("comparison")[["n", "flips", "flip_rate"]]),
        )
        return Summary(f"Data quality of {self.source}", tables, self.notes)


def _redact(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def label_agreement(labels: pd.DataFrame) -> pd.DataFrame:
    """Label-flip rates between the outcome sources of :attr:`QualityResult.labels`.

    The labels layer builds the table (:func:`pmresearch.labels.outcome_sources`); this only counts.

    Parameters
    ----------
    labels : pandas.DataFrame
        ``interval_minutes`` and the Int8 columns ``recorded``, ``oracle``, ``exchange``.

    Returns
    -------
    pandas.DataFrame
        ``comparison`` (``exchange vs recorded``, ``oracle vs recorded``, ``exchange vs oracle``),
        ``interval_minutes`` (each, and ``all``), ``n`` (markets where both are known), ``flips``
        and ``flip_rate`` (NaN when ``n`` is 0).
    """
    rows = []
    pairs = [("exchange", "recorded"), ("oracle", "recorded"), ("exchange", "oracle")]
    groups: list[tuple[str, pd.DataFrame]] = [("all", labels)]
    groups += [(str(int(cast(int, iv))), g) for iv, g in labels.groupby("interval_minutes", sort=True)]
    for a, b in pairs:
        for iv, g in groups:
            both = g[a].notna() & g[b].notna()
            n = int(both.sum())
            flips = int((g.loc[both, a] != g.loc[both, b]).sum())
            rows.append({"comparison": f"{a} vs {b}", "interval_minutes": iv, "n": n, "flips": flips,
                         "flip_rate": flips / n if n else float("nan")})
    return pd.DataFrame(rows)


def _empty_labels() -> pd.DataFrame:
    """The per-market outcome table without markets."""
    return pd.DataFrame({"slug": pd.Series(dtype=str), "interval_minutes": pd.Series(dtype="int64"),
                         "window_start": pd.Series(dtype="datetime64[us, UTC]"),
                         "recorded": pd.Series(dtype="Int8"), "oracle": pd.Series(dtype="Int8"),
                         "exchange": pd.Series(dtype="Int8")})


def collector_clock_offsets(store: Store, *, quantile: float = 0.01) -> dict[str, pd.Timedelta]:
    """Clock offset of every collector with receipt stamps, for knowledge times (DESIGN.md).

    The collectors are the ``source`` of oracle rows and the ``venue`` of trades (the names
    :func:`pmresearch.data.store.knowledge_time_sql` matches); each offset comes from
    :func:`~pmresearch.data.cleaning.receipt_offset` over all of that collector's rows.

    Parameters
    ----------
    store : Store
        The store (read-only).
    quantile : float
        See :func:`~pmresearch.data.cleaning.receipt_offset`.

    Returns
    -------
    dict of str to pandas.Timedelta
        Pass it as ``Store.as_of(..., clock_offsets=...)``.
    """
    out: dict[str, pd.Timedelta] = {}
    for table, who in (("oracle_prices", "source"), ("trades", "venue")):
        names = store.query(f"SELECT DISTINCT {who} FROM {table} WHERE received_at IS NOT NULL ORDER BY 1")
        for (name,) in names.itertuples(index=False):
            rows = utc(store.query(f"SELECT ts, received_at FROM {table} WHERE {who} = ? AND received_at IS NOT NULL",
                                    [name]), "ts", "received_at")
            out[str(name)] = receipt_offset(rows["ts"], rows["received_at"], quantile=quantile).offset
    return out


def _checked_labels(labels: pd.DataFrame | None, label_notes: Sequence[str], notes: list[str]) -> pd.DataFrame:
    """The per-market outcome table given (an empty one for None), its notes appended to ``notes``."""
    notes.extend(str(n) for n in label_notes)
    if labels is None:
        if not label_notes:
            notes.append(_NOT_ASSESSED)
        return _empty_labels()
    missing = [c for c in _LABEL_COLS if c not in labels.columns]
    if missing:
        raise ValueError(f"assess_quality: labels lack the columns {missing} (expected {_LABEL_COLS}; "
                         "see pmresearch.labels.outcome_sources)")
    return labels


def assess_quality(store: Store, config: QualityConfig | None = None, *, labels: pd.DataFrame | None = None,
                   label_notes: Sequence[str] = ()) -> QualityResult:
    """Assess the data quality of every table of ``store`` (read-only).

    Parameters
    ----------
    store : Store
        A DuckDB or PostgreSQL store (:func:`pmresearch.data.store.connect`).
    config : QualityConfig, optional
        Thresholds; the defaults are documented on :class:`QualityConfig`.
    labels : pandas.DataFrame, optional
        Each market's outcome by source (columns of :attr:`QualityResult.labels`), from the labels layer
        (:func:`pmresearch.labels.outcome_sources`); its flips are counted with :func:`label_agreement`.
        None: no label comparison (empty tables), with a note saying why (``label_notes``, or that labels
        were not assessed).
    label_notes : sequence of str
        What the labels layer could not compute (appended to the notes).

    Returns
    -------
    QualityResult
        Completeness, gaps, anomalies, spreads by hour, clock skew, collector offsets and label flips.

    See Also
    --------
    pmresearch.labels.assess_quality_with_labels : this, with the label flips of the store's markets.
    """
    cfg = config or QualityConfig()
    counts = store.counts()
    found = Found(cfg)
    for table, read in READERS:
        if counts.get(table):
            read(store, found)
    series, completeness, gaps = series_tables(found)
    found.refs.sort(key=lambda r: r[0])
    skew, curves = clock_skew_table([(n, s) for _, n, s in found.refs], found.oracles, cfg, found.notes)
    outcomes = _checked_labels(labels, label_notes, found.notes)
    return QualityResult(
        source=_redact(display_path(store.url)), counts=counts, series=series, completeness=completeness,
        gaps=gaps, anomalies=pd.DataFrame(found.anomalies, columns=ANOMALY_COLS),
        spread_by_hour=spread_by_hour(found.spreads), clock_skew=skew, skew_curves=curves,
        receipt_offsets=pd.DataFrame(found.offsets, columns=OFFSET_COLS),
        labels=outcomes, label_agreement=label_agreement(outcomes), notes=tuple(found.notes), config=cfg,
    )
