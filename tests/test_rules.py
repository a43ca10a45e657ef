"""Venue rules timeline: every dated boundary of DOMAIN.md, checked on both sides."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pmresearch import rules

EPS = pd.Timedelta(microseconds=1)


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz="UTC")


@pytest.mark.parametrize(
    ("boundary", "before", "after"),
    [
        ("2026-01-06", (0.0, 0.0), (0.25, 2.0)),
        ("2026-03-30", (0.25, 2.0), (0.07, 1.0)),
    ],
)
def test_fee_schedule_boundaries(boundary: str, before: tuple[float, float], after: tuple[float, float]) -> None:
    b = ts(boundary)
    f0, f1 = rules.fee_schedule_at(b - EPS), rules.fee_schedule_at(b)
    assert (f0.rate, f0.exponent) == before
    assert (f1.rate, f1.exponent) == after
    rate, expo = rules.fees_at(pd.DatetimeIndex([b - EPS, b]))
    assert list(rate) == [before[0], after[0]]
    assert list(expo) == [before[1], after[1]]


def test_fees_disabled_before_launch() -> None:
    assert not rules.fee_schedule_at("2025-12-31").enabled
    assert rules.fee_schedule_at("2026-02-01").fee_type == "crypto_fees"
    assert rules.fee_schedule_at("2026-06-15").fee_type == "crypto_fees_v2"


@pytest.mark.parametrize(
    ("boundary", "before", "after"),
    [("2025-11-14", 0.0, 0.5), ("2026-02-18", 0.5, 0.0), ("2026-06-05", 0.0, 0.25)],
)
def test_taker_delay_boundaries(boundary: str, before: float, after: float) -> None:
    b = ts(boundary)
    assert rules.taker_delay_at(b - EPS) == before
    assert rules.taker_delay_at(b) == after
    vec = rules.taker_delay_at(pd.Series([b - EPS, b]))
    np.testing.assert_array_equal(vec, [before, after])


@pytest.mark.parametrize("interval", [5, 15])
def test_settlement_boundary(interval: int) -> None:
    b = rules.TWAP_SETTLEMENT_START
    assert rules.settlement_rule_at(b - EPS, interval).mode == "instant"
    after = rules.settlement_rule_at(b, interval)
    assert after.mode == "twap"
    assert after.twap_lookback_s == {5: 30, 15: 60}[interval]
    # a market's own metadata overrides the default lookback (a 2026-08-23 5-minute market says 60 s)
    assert rules.settlement_rule_at("2026-08-23", 5, twap_lookback_s=60).twap_lookback_s == 60
    assert rules.settlement_rule_at("2026-08-23", 60).mode == "candle"


def test_collateral_boundary() -> None:
    b = ts("2026-04-28")
    assert rules.rules_at(b - EPS).collateral == "USDC"
    assert rules.rules_at(b).collateral == "pUSD"
    assert rules.rules_at(b).clob_version == 2


def test_default_world_start_rules() -> None:
    """DESIGN.md: from 2026-06-15, instantaneous settlement, rate 0.07 exponent 1, 250 ms delay."""
    r = rules.rules_at("2026-06-15", 15)
    assert (r.fee.rate, r.fee.exponent, r.taker_delay_s, r.settlement.mode) == (0.07, 1.0, 0.25, "instant")
    assert r.min_order_shares == 5.0


def test_fee_examples_from_domain() -> None:
    """DOMAIN.md, launch schedule, 100 shares: 0.2025 at 0.10, 1.5625 at 0.50, 0.00245 at 0.99."""
    fees = rules.taker_fee(100, [0.10, 0.50, 0.99], 0.25, 2.0)
    np.testing.assert_array_equal(fees, [0.2025, 1.5625, 0.00245])
    # current schedule: rate * (1 - p) of the amount paid: 3.5% at 0.50, 0.7% at 0.90, 6.3% at 0.10
    p = np.array([0.5, 0.9, 0.1])
    share_of_paid = rules.taker_fee(1000, p, 0.07, 1.0) / (1000 * p)
    np.testing.assert_allclose(share_of_paid, [0.035, 0.007, 0.063], atol=1e-9)


def test_fee_floor_to_five_decimals() -> None:
    # 7 * 0.07 * 0.5 * 0.5 = 0.1225 exactly; 3 shares at 0.33: 3*0.07*0.2211 = 0.046431 -> 0.04643
    assert rules.taker_fee(3, 0.33, 0.07, 1.0) == pytest.approx(0.04643, abs=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rules.taker_fee(1, 1.2, 0.07, 1.0)


def test_market_metadata_overrides_fee() -> None:
    r = rules.rules_at("2026-06-15", fee_rate=0.0, fee_exponent=1.0)
    assert r.fee.rate == 0.0
    r2 = rules.rules_at("2026-06-15", fee_rate=float("nan"))
    assert r2.fee.rate == 0.07


def test_tick_size_and_rounding() -> None:
    np.testing.assert_array_equal(rules.tick_size([0.5, 0.96, 0.961, 0.04, 0.039]), [0.01, 0.01, 0.001, 0.01, 0.001])
    np.testing.assert_array_equal(rules.round_to_tick([0.4949, 0.49000000001], "up"), [0.5, 0.49])
    np.testing.assert_array_equal(rules.round_to_tick([0.7 - 0.2, 0.9734, 0.4999999999], "down"), [0.5, 0.973, 0.49])
    assert rules.round_to_tick(1.2, "up")[()] == 0.999


# The venue's price grid written out (DOMAIN.md: tick 0.01; 0.001 above 0.96 and below 0.04).
GRID = np.array(sorted({k / 1000 for k in range(1, 40)} | {k / 100 for k in range(4, 97)}
                       | {k / 1000 for k in range(961, 1000)}))


def test_round_to_tick_against_the_written_out_grid() -> None:
    """Every direction against a search of the explicit grid; grid prices (and so mirrors ``1 - p`` of
    grid prices) are fixed points, including the fine ticks next to 0.04 and 0.96."""
    rng = np.random.default_rng(11)
    p = np.concatenate([rng.uniform(0.001, 0.999, 20_000), rng.uniform(0.025, 0.045, 5_000),
                        rng.uniform(0.955, 0.975, 5_000)])
    below = GRID[np.searchsorted(GRID, p + 1e-12, side="right") - 1]
    above = GRID[np.searchsorted(GRID, p - 1e-12, side="left")]
    nearest = np.where(p - below <= above - p, below, above)
    np.testing.assert_array_equal(rules.round_to_tick(p, "down"), below)
    np.testing.assert_array_equal(rules.round_to_tick(p, "up"), above)
    not_tie = np.abs((p - below) - (above - p)) > 1e-9
    np.testing.assert_array_equal(rules.round_to_tick(p, "nearest")[not_tie], nearest[not_tie])
    for direction in ("down", "up", "nearest"):
        np.testing.assert_array_equal(rules.round_to_tick(GRID, direction), GRID)
        np.testing.assert_array_equal(rules.round_to_tick(1.0 - GRID, direction), GRID[::-1])
    assert rules.round_to_tick(0.9655, "down")[()] == 0.965 and rules.round_to_tick(0.0345, "up")[()] == 0.035
    np.testing.assert_array_equal(rules.round_to_tick([-0.001, 1.0], "nearest", clip=False), [-0.001, 1.0])
    with pytest.raises(ValueError, match="direction"):
        rules.round_to_tick(0.5, "in")  # type: ignore[arg-type]


def test_tie_resolves_up() -> None:
    rule = rules.settlement_rule_at("2026-06-15", 15)
    np.testing.assert_array_equal(rule.outcome([100.0, 100.0, 100.0], [100.0, 99.99, 100.01]), [1, 0, 1])


def test_naive_timestamp_is_an_error() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        rules.rules_at("2026-06-15 12:00")
    with pytest.raises(ValueError, match="naive"):
        rules.taker_delay_at(pd.Series(pd.to_datetime(["2026-06-15"])))
