"""The feature registry is built explicitly: family modules list their blocks, one list builds the default registry.

Nothing registers itself on import (scikit-learn/``arch`` pattern: components are passed in); tests that need an extra
feature build a private :class:`FeatureRegistry` and leave :data:`pmresearch.features.REGISTRY` unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pmresearch.features
from pmresearch.features import REGISTRY, FeatureInputs, FeatureRegistry, all_feature_names, compute_features
from pmresearch.features import default_registry as default_registry_reexport
from pmresearch.features.context import FeatureContext
from pmresearch.features.families import DEFAULT_BLOCKS, default_registry
from pmresearch.features.inputs import _EMPTY_KLINES as EMPTY_KLINES
from pmresearch.features.registry import Block, feature_table, make_block

#: ``all_feature_names()`` as printed before the registration was made explicit (commit 9ece4bf, when the families
#: registered on import): the same 129 names in the same order.
NAMES_BEFORE = [
    "price__ret_1m", "price__ret_2m", "price__ret_5m", "price__ret_10m", "price__ret_15m", "price__ret_30m",
    "price__ret_60m", "price__ma_dist_5m", "price__ema_dist_5m", "price__ma_dist_15m", "price__ema_dist_15m",
    "price__ma_dist_60m", "price__ema_dist_60m", "price__hl_range_1m", "price__hl_range_5m", "price__hl_range_15m",
    "price__hl_range_60m", "price__close_in_range_60m", "price__accel_1m", "price__accel_5m", "price__accel_15m",
    "price__ret_10s", "price__ret_30s", "price__oracle_ret_60s", "price__oracle_ret_300s", "price__oracle_basis",
    "ta__rsi_1m", "ta__rsi_5m", "ta__rsi_15m", "ta__macd", "ta__macd_signal", "ta__macd_hist", "ta__stoch_k",
    "ta__stoch_d", "ta__bb_pos_20m", "ta__bb_width_20m", "ta__bb_pos_60m", "ta__bb_width_60m", "ta__atr_14m",
    "ta__atr_60m", "vol__rv_1m_5m", "vol__rv_1m_15m", "vol__rv_1m_30m", "vol__rv_1m_60m", "vol__rv_1m_240m",
    "vol__parkinson_5m", "vol__garman_klass_5m", "vol__parkinson_15m", "vol__garman_klass_15m", "vol__parkinson_60m",
    "vol__garman_klass_60m", "vol__parkinson_240m", "vol__garman_klass_240m", "vol__ewma_094", "vol__ratio_15m_240m",
    "vol__pctile_60m", "vol__regime_60m", "vol__rv_1s_1m", "vol__rv_1s_5m", "vol__rv_1s_15m", "vol__rv_ref_60m",
    "vol__rv_ref_60m_age_s", "vol__rv_oracle_60m", "vol__rv_oracle_60m_age_s", "volume__trend_5m_60m",
    "volume__trend_15m_240m", "volume__z_60m", "volume__z5_240m", "volume__vwap_dist_15m", "volume__vwap_dist_60m",
    "volume__vwap_dist_240m", "volume__obv_flow_15m", "volume__obv_flow_60m", "volume__taker_buy_share_5m",
    "volume__taker_buy_share_15m", "volume__trades_z_60m", "micro__spread_up", "micro__rel_spread_up",
    "micro__spread_down", "micro__overround", "micro__underround", "micro__quote_age_s", "micro__mid_up_change_30s",
    "micro__mid_up_change_120s", "micro__top_imbalance_up", "micro__depth_imbalance_3_up",
    "micro__depth_imbalance_5_up", "micro__depth_imbalance_10_up", "micro__log_depth_5_up",
    "micro__microprice_dev_up", "micro__top_imbalance_down", "micro__trade_imbalance_10s",
    "micro__trade_imbalance_60s", "micro__trade_imbalance_300s", "micro__tick_balance_60s", "micro__tick_dir_last",
    "micro__log_trades_60s", "micro__pm_up_pressure_60s", "micro__pm_up_pressure_300s", "micro__pm_log_trades_300s",
    "time__hour", "time__hour_sin", "time__hour_cos", "time__dow", "time__dow_sin", "time__dow_cos", "time__weekend",
    "time__min_since_us_open", "time__min_to_us_open", "time__min_since_us_close", "time__min_to_us_close",
    "time__us_session", "cross__eth_ret_1m", "cross__eth_ret_5m", "cross__eth_ret_15m", "cross__eth_ret_60m",
    "cross__eth_btc_corr_60m", "cross__eth_btc_corr_240m", "cross__btc_eth_beta_240m", "cross__ratio_dist_60m",
    "cross__eth_rv_60m", "contract__log_moneyness", "contract__tau_years", "contract__z", "contract__z_rv15",
    "contract__prob_bs", "contract__prob_bs_rv15", "contract__prob_bs_ewma", "contract__elapsed_frac",
]
NAMES_BEFORE_SHA256 = "760ca643d69be093538608efb01ce0270d870d4caca736831e95b770a80d4f42"
BLOCKS_BEFORE = ["price_1m", "price_1s", "price_oracle", "vol_1m", "vol_1s", "cross_1m", "contract", "micro_quotes",
                 "micro_books", "micro_exchange_trades", "micro_polymarket_trades", "ta_1m", "time", "vol_ref",
                 "vol_oracle", "volume_1m"]
FEATURES_DIR = Path(pmresearch.features.__file__).parent


def test_default_names_and_order_unchanged() -> None:
    assert len(NAMES_BEFORE) == 129
    assert hashlib.sha256("\n".join(NAMES_BEFORE).encode()).hexdigest() == NAMES_BEFORE_SHA256
    assert all_feature_names() == NAMES_BEFORE
    assert list(REGISTRY.blocks) == BLOCKS_BEFORE
    assert [b.name for b in DEFAULT_BLOCKS] == BLOCKS_BEFORE
    assert sorted(REGISTRY) == sorted(NAMES_BEFORE)


def test_default_registry_is_a_fresh_copy_of_the_default_list() -> None:
    a, b = default_registry(), default_registry()
    assert a is not b and a is not REGISTRY and default_registry_reexport is default_registry
    assert list(a) == list(REGISTRY) and list(a.blocks) == list(REGISTRY.blocks)
    assert all(a[n] == REGISTRY[n] for n in REGISTRY)
    a.unregister("time")
    assert "time__hour" not in a and "time__hour" in b and "time__hour" in REGISTRY
    assert len(a) == len(REGISTRY) - 12


def _planted_block() -> Block:
    def fn(ctx: FeatureContext) -> dict[str, np.ndarray]:
        return {"planted__one": np.ones(len(ctx.rows))}

    return make_block("planted", "planted", fn, [("one", "0s", "1", "constant one")], inputs=("rows",))


def test_private_registry_computes_without_touching_the_default() -> None:
    registry = FeatureRegistry([*DEFAULT_BLOCKS, _planted_block()])
    rows = pd.DataFrame({"t": pd.to_datetime(["2026-06-15 10:00", "2026-06-15 11:00"], utc=True)})
    out = compute_features(rows, FeatureInputs(spot_1m=EMPTY_KLINES), ["planted__one", "time__hour"], registry=registry)
    np.testing.assert_array_equal(out["planted__one"].to_numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(out["time__hour"].to_numpy(), [10.0, 11.0])
    assert "planted__one" not in REGISTRY and "planted__one" in all_feature_names(registry=registry)
    with pytest.raises(ValueError, match="unknown features"):
        compute_features(rows, FeatureInputs(spot_1m=EMPTY_KLINES), ["planted__one"])


def test_registry_from_blocks_refuses_repeats() -> None:
    with pytest.raises(ValueError, match="already registered"):
        FeatureRegistry([*DEFAULT_BLOCKS, DEFAULT_BLOCKS[0]])
    with pytest.raises(ValueError, match="already registered"):
        FeatureRegistry([_planted_block(), _planted_block()])




def test_family_modules_list_blocks_and_register_nothing() -> None:
    families = ["price", "volatility", "cross_asset", "contract", "microstructure", "technical", "temporal",
                "vol_sources", "volume"]
    for name in families:
        source = (FEATURES_DIR / f"{name}.py").read_text()
        assert "REGISTRY" not in source and ".register(" not in source, name
        assert "BLOCKS: tuple[Block, ...] = (" in source, name


def test_feature_table_parses_rows_and_names_a_bad_line() -> None:
    rows = feature_table("""
        rsi_1m  | 42min | 0-100    | Wilder RSI(14) of 1-minute bars

        bb_pos  | 20min | fraction | Bollinger %B (20 bars, 2 sd)
    """)
    assert rows == (("rsi_1m", "42min", "0-100", "Wilder RSI(14) of 1-minute bars"),
                    ("bb_pos", "20min", "fraction", "Bollinger %B (20 bars, 2 sd)"))
    with pytest.raises(ValueError, match=r"line 3: expected 'name \| lookback \| units \| description'"):
        feature_table("\n a | 1min | x | y\n b | 1min | x\n")
    with pytest.raises(ValueError, match="line 1"):
        feature_table(" a | 1min |  | y")
