"""Venue rules timeline for Polymarket crypto "Up or Down" markets.

The venue changes its rules on dated boundaries (``../shared/DOMAIN.md``), so every rule here is a
function of the timestamp, never today's value. All boundaries are UTC midnights and every period is
half-open ``[start, next_start)``.

========================  =============================  ==========================================
rule                      period                         value
========================  =============================  ==========================================
taker fee                 before 2026-01-06              none (``feesEnabled: false``)
                          2026-01-06 .. 2026-03-29       rate 0.25, exponent 2 (``crypto_fees``)
                          from 2026-03-30                rate 0.07, exponent 1 (``crypto_fees_v2``)
taker delay               2025-11-14 .. 2026-02-17       500 ms
                          2026-02-18 .. 2026-06-04       none
                          from 2026-06-05                250 ms
settlement (5/15 min)     until 2026-08-06               Chainlink Data Streams, instantaneous
                          from 2026-08-07                Chainlink TWAP stream (lookback 30 s for
                                                         5-min, 60 s for 15-min unless overridden)
settlement (60 min)       always                         Binance 1h candle, close >= open
collateral / API          before 2026-04-28              USDC, CLOB V1
                          from 2026-04-28                pUSD, CLOB V2
tick size                 always                         0.01; 0.001 above 0.96 or below 0.04
minimum order             always                         5 shares
tie rule                  always                         end >= start resolves Up
========================  =============================  ==========================================

A market's own metadata overrides the defaults when present: :func:`rules_at` takes the market's
``fee_rate``/``fee_exponent`` and TWAP lookback as optional overrides. The settlement rule of a
market is the one in force at its ``window_start`` (markets are created with their rule fixed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from pmresearch._time import to_utc
from pmresearch._typing import FloatArray

__all__ = [
    "FEE_V1_START",
    "FEE_V2_START",
    "TWAP_SETTLEMENT_START",
    "FeeSchedule",
    "SettlementRule",
    "VenueRules",
    "fee_schedule_at",
    "fees_at",
    "min_order_shares",
    "round_to_tick",
    "rules_at",
    "settlement_rule_at",
    "taker_delay_at",
    "taker_fee",
    "tick_size",
]

_UTC = "UTC"
FEE_V1_START = pd.Timestamp("2026-01-06", tz=_UTC)
FEE_V2_START = pd.Timestamp("2026-03-30", tz=_UTC)
DELAY_500_START = pd.Timestamp("2025-11-14", tz=_UTC)
DELAY_NONE_START = pd.Timestamp("2026-02-18", tz=_UTC)
DELAY_250_START = pd.Timestamp("2026-06-05", tz=_UTC)
CLOB_V2_START = pd.Timestamp("2026-04-28", tz=_UTC)
TWAP_SETTLEMENT_START = pd.Timestamp("2026-08-07", tz=_UTC)

#: Default TWAP lookback by window length (a vendor's statement; market metadata overrides it).
DEFAULT_TWAP_LOOKBACK_S: dict[int, int] = {5: 30, 15: 60}
MIN_ORDER_SHARES = 5.0
FEE_DECIMALS = 5

SettlementMode = Literal["instant", "twap", "candle"]


@dataclass(frozen=True)
class FeeSchedule:
    """Taker fee schedule: ``fee = shares * rate * (p * (1 - p)) ** exponent``, floored to 5 decimals.

    Makers pay nothing. ``fee_type`` is the venue's label for the schedule.
    """

    rate: float
    exponent: float
    fee_type: str

    @property
    def enabled(self) -> bool:
        """Whether takers pay a fee under this schedule."""
        return self.rate > 0.0

    def fee(self, shares: npt.ArrayLike, price: npt.ArrayLike) -> FloatArray:
        """Fee in collateral for taking ``shares`` at ``price`` (vectorized)."""
        return taker_fee(shares, price, self.rate, self.exponent)


@dataclass(frozen=True)
class SettlementRule:
    """How a window's outcome is decided: reference source, averaging and the tie rule.

    ``mode`` is ``"instant"`` (the stream's value stamped at the window start and end), ``"twap"``
    (the TWAP stream's value: the mean of the 1 Hz values over ``twap_lookback_s`` seconds ending at
    the stamp) or ``"candle"`` (hourly markets: the exchange candle). Ties resolve Up when ``tie_up``.
    """

    source: str
    mode: SettlementMode
    twap_lookback_s: int = 0
    tie_up: bool = True

    def outcome(self, start_value: npt.ArrayLike, end_value: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """1 (Up) where ``end >= start`` (ties Up), else 0; inputs must be finite."""
        start = np.asarray(start_value, dtype=np.float64)
        end = np.asarray(end_value, dtype=np.float64)
        up = end >= start if self.tie_up else end > start
        return up.astype(np.int8)


@dataclass(frozen=True)
class VenueRules:
    """Every venue rule in force at one timestamp (see the module table)."""

    ts: pd.Timestamp
    fee: FeeSchedule
    taker_delay_s: float
    settlement: SettlementRule
    min_order_shares: float
    collateral: str
    clob_version: int

    def tick_size(self, price: npt.ArrayLike) -> FloatArray:
        """Tick size at ``price`` (0.01, or 0.001 above 0.96 / below 0.04)."""
        return tick_size(price)


def _ts(value: pd.Timestamp | str) -> pd.Timestamp:
    return to_utc(value, what="rules lookup time")


def fee_schedule_at(ts: pd.Timestamp | str) -> FeeSchedule:
    """Default taker fee schedule for crypto up/down markets at ``ts``."""
    t = _ts(ts)
    if t < FEE_V1_START:
        return FeeSchedule(0.0, 0.0, "none")
    if t < FEE_V2_START:
        return FeeSchedule(0.25, 2.0, "crypto_fees")
    return FeeSchedule(0.07, 1.0, "crypto_fees_v2")


def _as_utc_index(ts: Any) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(ts)
    if idx.tz is None:
        raise ValueError("rules lookup: timestamps are naive; pmresearch requires tz-aware UTC")
    return idx.tz_convert(_UTC)


def fees_at(ts: pd.Series | pd.DatetimeIndex | npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorized default fee ``(rate, exponent)`` arrays for an array of tz-aware timestamps."""
    idx = _as_utc_index(ts)
    rate = np.select([idx < FEE_V1_START, idx < FEE_V2_START], [0.0, 0.25], 0.07).astype(np.float64)
    expo = np.select([idx < FEE_V1_START, idx < FEE_V2_START], [0.0, 2.0], 1.0).astype(np.float64)
    return rate, expo


def taker_delay_at(ts: pd.Timestamp | str | pd.Series | pd.DatetimeIndex) -> float | FloatArray:
    """Taker delay (speed bump) in seconds at ``ts``; vectorized over a Series/DatetimeIndex."""
    if isinstance(ts, pd.Series | pd.DatetimeIndex):
        idx = _as_utc_index(ts)
        return np.select(
            [idx < DELAY_500_START, idx < DELAY_NONE_START, idx < DELAY_250_START], [0.0, 0.5, 0.0], 0.25
        ).astype(np.float64)
    t = _ts(ts)
    if t < DELAY_500_START:
        return 0.0
    if t < DELAY_NONE_START:
        return 0.5
    if t < DELAY_250_START:
        return 0.0
    return 0.25


def settlement_rule_at(
    window_start: pd.Timestamp | str, interval_minutes: int, twap_lookback_s: int | None = None
) -> SettlementRule:
    """Settlement rule of a market of ``interval_minutes`` opening at ``window_start``.

    ``twap_lookback_s`` is the market's own ``cryptoMarketConfig.twapLookbackSeconds`` when known;
    it only matters in the TWAP period.
    """
    t = _ts(window_start)
    if interval_minutes == 60:
        return SettlementRule("binance-1h-candle", "candle")
    if interval_minutes not in DEFAULT_TWAP_LOOKBACK_S:
        raise ValueError(f"settlement rule: no rule for {interval_minutes}-minute markets (5, 15 or 60)")
    if t < TWAP_SETTLEMENT_START:
        return SettlementRule("chainlink-data-streams", "instant")
    lookback = DEFAULT_TWAP_LOOKBACK_S[interval_minutes] if twap_lookback_s is None else int(twap_lookback_s)
    if lookback <= 0:
        raise ValueError(f"settlement rule: TWAP lookback must be positive, got {lookback}")
    return SettlementRule("chainlink-data-streams-twap", "twap", lookback)


def rules_at(
    ts: pd.Timestamp | str,
    interval_minutes: int = 15,
    *,
    fee_rate: float | None = None,
    fee_exponent: float | None = None,
    twap_lookback_s: int | None = None,
) -> VenueRules:
    """All venue rules in force at ``ts`` for a market of ``interval_minutes``.

    ``fee_rate``/``fee_exponent``/``twap_lookback_s`` are a market's own metadata; when given (and
    not NaN) they override the timeline's defaults.
    """
    t = _ts(ts)
    fee = fee_schedule_at(t)
    if fee_rate is not None and not math.isnan(fee_rate):
        expo = fee.exponent if fee_exponent is None or math.isnan(fee_exponent) else float(fee_exponent)
        fee = replace(fee, rate=float(fee_rate), exponent=expo, fee_type="market-metadata")
    delay = taker_delay_at(t)
    assert isinstance(delay, float)
    v2 = t >= CLOB_V2_START
    return VenueRules(
        ts=t,
        fee=fee,
        taker_delay_s=delay,
        settlement=settlement_rule_at(t, interval_minutes, twap_lookback_s),
        min_order_shares=MIN_ORDER_SHARES,
        collateral="pUSD" if v2 else "USDC",
        clob_version=2 if v2 else 1,
    )


def taker_fee(
    shares: npt.ArrayLike, price: npt.ArrayLike, rate: npt.ArrayLike, exponent: npt.ArrayLike
) -> FloatArray:
    """Taker fee ``shares * rate * (p (1 - p)) ** exponent`` floored to 5 decimals (vectorized).

    Examples (launch schedule, rate 0.25, exponent 2, 100 shares; DOMAIN.md): 0.2025 at 0.10,
    1.5625 at 0.50, 0.00245 at 0.99. Under rate 0.07, exponent 1 the fee is 3.5% of the amount paid
    at 0.50.
    """
    c = np.asarray(shares, dtype=np.float64)
    p = np.asarray(price, dtype=np.float64)
    if np.any((p < 0.0) | (p > 1.0)):
        raise ValueError("taker_fee: prices must lie in [0, 1]")
    raw = c * np.asarray(rate, dtype=np.float64) * (p * (1.0 - p)) ** np.asarray(exponent, dtype=np.float64)
    scale = 10.0**FEE_DECIMALS
    # The epsilon absorbs binary representation error (0.1 * 0.9 = 0.09000000000000001) before flooring.
    return np.asarray(np.floor(raw * scale + 1e-7) / scale, dtype=np.float64)


def tick_size(price: npt.ArrayLike) -> FloatArray:
    """Tick size: 0.001 where the price is above 0.96 or below 0.04, else 0.01 (vectorized)."""
    p = np.asarray(price, dtype=np.float64)
    return np.where((p > 0.96) | (p < 0.04), 0.001, 0.01)


def round_to_tick(
    price: npt.ArrayLike, direction: Literal["down", "up", "nearest"], *, clip: bool = True
) -> FloatArray:
    """Round prices onto the venue's tick grid (vectorized).

    The grid holds 0.001 .. 0.039, 0.04 .. 0.96 in steps of 0.01 and 0.961 .. 0.999 (the tick is
    0.001 above 0.96 and below 0.04, :func:`tick_size`). ``"down"`` gives the largest grid price at
    or below each price (bids), ``"up"`` the smallest at or above (asks), ``"nearest"`` the closest
    (ties to even hundredths/thousandths). Prices already on the grid (up to 1e-9) are returned
    unchanged by every direction, so ``round_to_tick(1 - p, ...)`` of a grid price ``p`` is its
    mirror exactly.

    Parameters
    ----------
    price : array_like
        Prices.
    direction : {"down", "up", "nearest"}
        Rounding direction.
    clip : bool, default True
        Clip the result to ``[0.001, 0.999]``; when False, prices off ``[0, 1]`` stay outside it (for
        callers that drop levels beyond the book's ends).

    Returns
    -------
    ndarray
        float64 grid prices (rounded to 3 decimals, so equal grid prices compare equal).
    """
    if direction not in ("down", "up", "nearest"):
        raise ValueError(f"round_to_tick: direction must be 'down', 'up' or 'nearest', got {direction!r}")
    p = np.asarray(price, dtype=np.float64)

    def grid(scale: float) -> FloatArray:
        x = p * scale
        if direction == "down":
            return np.asarray(np.floor(x + 1e-9) / scale, dtype=np.float64)
        if direction == "up":
            return np.asarray(np.ceil(x - 1e-9) / scale, dtype=np.float64)
        return np.asarray(np.round(x) / scale, dtype=np.float64)

    # The fine-grid result is a grid price exactly when it lies where the tick is 0.001; elsewhere
    # the coarse-grid result is the answer in that direction (the grids nest: 0.04 and 0.96 are on both).
    fine = grid(1000.0)
    out = np.round(np.where(tick_size(fine) < 0.01, fine, grid(100.0)), 3)
    if clip:
        out = np.clip(out, 0.001, 0.999)
    return np.asarray(out, dtype=np.float64)


def min_order_shares(ts: pd.Timestamp | str) -> float:
    """Minimum order size in shares at ``ts`` (5 throughout the timeline)."""
    _ts(ts)
    return MIN_ORDER_SHARES
