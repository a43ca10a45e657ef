"""The quality assessment and its HTML report, on a simulated world and on the real sample."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pmresearch._summary import Summary
from pmresearch.cli import app
from pmresearch.data import read_file
from pmresearch.data.quality import QualityResult, assess_quality, collector_clock_offsets, label_agreement
from pmresearch.data.store import connect
from pmresearch.labels import assess_quality_with_labels, outcome_sources
from pmresearch.reports.quality import SECTIONS, quality_figures, quality_html
from pmresearch.simulate import World, simulate

SECOND = pd.Timedelta(seconds=1)


def _check_html(page: str, n_figures: int | None = None) -> None:
    for name, _ in SECTIONS:
        assert f'data-pmr="quality-{name}"' in page, name
    assert page.count("* plotly.js v") == 1  # the library is embedded inline exactly once
    if n_figures is not None:
        assert page.count("Plotly.newPlot") == n_figures
    assert "<script src" not in page and "Traceback" not in page


def _n_figures(result: QualityResult) -> int:
    return sum(len(v) for v in quality_figures(result).values())


def _items(world: World) -> list[tuple[str, pd.DataFrame, str]]:
    return [("klines", world.klines, "k1m"), ("klines", world.klines_1s, "k1s"), ("oracle", world.oracle, "ds"),
            ("oracle", world.oracle_push, "push"), ("markets", world.markets, "markets"),
            ("quotes", world.quotes, "quotes"), ("books", world.books, "books"), ("trades", world.trades, "trades")]


@pytest.fixture(scope="module")
def world() -> World:
    """Half a simulated day whose settlement oracle misses 1 % of its seconds (planted gaps)."""
    return simulate("edge", days=0.5, seed=3, oracle_missing_rate=0.01)


@pytest.fixture(scope="module")
def sim_result(world: World) -> QualityResult:
    with connect("duckdb:///:memory:") as store:
        store.load_frames(_items(world))
        return assess_quality_with_labels(store)


def _independent_flips(world: World) -> tuple[int, int]:
    """Exchange proxy vs recorded outcome counted without the library: plain dict lookups per market."""
    k = world.klines
    opens = dict(zip(k["ts"], k["open"], strict=True))
    closes = dict(zip(k["ts"], k["close"], strict=True))
    n = flips = 0
    for m in world.markets.itertuples():
        last_bar = m.window_end - pd.Timedelta(minutes=1)
        if m.window_start not in opens or last_bar not in closes or pd.isna(m.outcome_up):
            continue
        n += 1
        flips += int(int(closes[last_bar] >= opens[m.window_start]) != int(m.outcome_up))
    return n, flips


def test_simulated_world_label_flips_match_an_independent_count(sim_result: QualityResult,
                                                                world: World) -> None:
    la = sim_result.label_agreement.set_index(["comparison", "interval_minutes"])
    n, flips = _independent_flips(world)
    assert n == len(world.markets) > 150
    row = la.loc[("exchange vs recorded", "all")]
    assert (row["n"], row["flips"]) == (n, flips) and row["flip_rate"] == pytest.approx(flips / n)
    # the simulator's outcomes ARE the oracle's: recomputing them must never flip
    assert la.loc[("oracle vs recorded", "all"), "n"] == n and la.loc[("oracle vs recorded", "all"), "flips"] == 0
    assert la.loc[("exchange vs oracle", "all"), "flips"] == flips
    per_iv = la.xs("exchange vs recorded", level=0).drop(index="all")
    assert per_iv["n"].sum() == n and per_iv["flips"].sum() == flips


def test_label_agreement_on_a_hand_built_table() -> None:
    na = pd.NA
    labels = pd.DataFrame({"interval_minutes": [5, 5, 5, 15, 15],
                           "recorded": pd.array([1, 0, 1, 1, na], dtype="Int8"),
                           "oracle": pd.array([1, 0, na, 1, 0], dtype="Int8"),
                           "exchange": pd.array([0, 0, 1, 0, 1], dtype="Int8")})
    la = label_agreement(labels).set_index(["comparison", "interval_minutes"])
    assert la.loc[("exchange vs recorded", "all"), ["n", "flips"]].tolist() == [4, 2]
    assert la.loc[("exchange vs recorded", "5"), ["n", "flips"]].tolist() == [3, 1]
    assert la.loc[("oracle vs recorded", "all"), ["n", "flips"]].tolist() == [3, 0]
    assert la.loc[("exchange vs oracle", "15"), ["n", "flips"]].tolist() == [2, 2]


def test_simulated_world_completeness_anomalies_skew_and_report(sim_result: QualityResult,
                                                                world: World) -> None:
    r = sim_result
    series = r.series.set_index("series")
    assert series.loc["klines BTCUSDT 1m simulator", "coverage"] == 1.0
    sec = ((world.oracle["ts"] - world.oracle["ts"].iloc[0]) / SECOND).astype(int).to_numpy()
    assert series.loc["oracle chainlink-data-streams", "gaps"] == int((np.diff(sec) > 1).sum()) > 50
    comp = r.completeness.set_index("series")
    assert (comp.loc["klines BTCUSDT 1s simulator", "completeness"] == 1.0).all()
    ds = comp.loc["oracle chainlink-data-streams"]
    assert (ds["rows"], ds["expected"]) == (len(world.oracle), sec[-1] + 1)  # one UTC day, 1 Hz from first to last
    an = r.anomalies.set_index(["series", "flag"])["count"]
    q = world.quotes
    for iv in (5, 15):
        sub = q[q["interval_minutes"] == iv]
        assert an[(f"quotes {iv}m", "crossed")] == int((sub["best_bid_up"] > sub["best_ask_up"]).sum())
        assert an[(f"quotes {iv}m", "one_sided")] == int((sub["best_bid_up"].isna() ^ sub["best_ask_up"].isna()).sum())
    skew = r.clock_skew.set_index("target")
    assert skew.loc["oracle chainlink-data-streams", "lag_s"] == 0.0  # the simulator's oracle has no lag
    assert skew.loc["oracle chainlink-data-streams", "within_tolerance"]
    assert r.receipt_offsets.set_index("collector").loc["chainlink-data-streams", "offset_s"] == 0.0
    assert (r.spread_by_hour.groupby("source")["median"].median() > 0).all()
    summary = r.summary()
    assert isinstance(summary, Summary) and summary.title == "Data quality of duckdb:///:memory:"
    assert str(r) == summary.as_text() and r._repr_html_() == summary.as_html()
    n, flips = _independent_flips(world)
    assert summary["label flips"].loc["exchange vs recorded", ["n", "flips"]].tolist() == [n, flips]
    assert summary["series"].loc["oracle chainlink-data-streams", "gaps"] == series.loc[
        "oracle chainlink-data-streams", "gaps"]
    assert summary["rows"]["rows"].to_dict() == dict(r.counts) and summary.notes == r.notes
    _check_html(quality_html(r), _n_figures(r))
    assert _n_figures(r) == 6  # every section has a figure on a full simulated world


def test_planted_oracle_lag_and_quote_hole_are_recovered_from_the_store(world: World) -> None:
    late = world.oracle.assign(ts=world.oracle["ts"] + 2 * SECOND,
                               received_at=world.oracle["received_at"] + 2 * SECOND)
    q = world.quotes
    slug = q["slug"].iloc[len(q) // 2]
    t0 = q.loc[q["slug"] == slug, "ts"].min()
    hole = (q["slug"] == slug) & (q["ts"] > t0 + 100 * SECOND) & (q["ts"] < t0 + 160 * SECOND)
    with connect("duckdb:///:memory:") as store:
        store.load_frames([("klines", world.klines_1s, "k1s"), ("oracle", late, "late"),
                           ("oracle", world.oracle_push, "push"), ("quotes", q[~hole], "quotes")])
        r = assess_quality_with_labels(store)
    skew = r.clock_skew.set_index("target")
    assert skew.loc["oracle chainlink-data-streams", "lag_s"] == 2.0
    assert skew.loc["oracle chainlink-data-streams", "within_tolerance"]  # 2 s is at the 2 s tolerance
    # the push feed is not shifted: it updates about once a minute, so its event-time returns span ~60 s and the
    # correlation curve is flat to within a second (measured -1 s on this world, 0 s before the oracle's
    # smoothing constant and noise were recalibrated); the estimate must stay inside the 2 s tolerance
    push = skew.loc["oracle chainlink-polygon-aggregator"]
    assert abs(push["lag_s"]) <= 1.0 and push["within_tolerance"]
    quote_gaps = r.gaps[r.gaps["series"].str.startswith("quotes")]
    assert quote_gaps["where"].tolist() == [slug]  # the only quote gap is the planted one
    kept = q.loc[(q["slug"] == slug) & ~hole, "ts"]
    expected = (kept[kept >= t0 + 160 * SECOND].min() - kept[kept <= t0 + 100 * SECOND].max()) / SECOND
    assert quote_gaps["duration_s"].iloc[0] == pytest.approx(expected)
    assert r.label_agreement["n"].sum() == 0 and any("no markets" in n for n in r.notes)


def test_cli_writes_the_report(world: World, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/sim.duckdb"
    with connect(url) as store:
        store.load_frames([("klines", world.klines, "k"), ("markets", world.markets, "m"),
                           ("oracle", world.oracle, "o")])
    out = tmp_path / "q.html"
    res = CliRunner().invoke(app, ["quality", "--db", url, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "label flips" in res.output and "exchange vs recorded" in res.output and out.is_file()
    _check_html(out.read_text())
    missing = CliRunner().invoke(app, ["quality", "--db", f"duckdb:///{tmp_path}/none.duckdb", "--out", str(out)])
    assert missing.exit_code == 1 and "no DuckDB store" in missing.output
    assert not (tmp_path / "none.duckdb").exists()


def _concat(data: Path, pattern: str) -> pd.DataFrame:
    """Every file of the sample matching ``pattern``, concatenated."""
    files = sorted(data.glob(pattern))
    assert files, f"no {pattern} in {data}"
    return pd.concat([read_file(f) for f in files], ignore_index=True)


@pytest.fixture(scope="module")
def real_result(shared_data: Path) -> QualityResult:
    with connect("duckdb:///:memory:") as store:
        store.load_data_dir(shared_data)
        result = assess_quality_with_labels(store)
        offsets = collector_clock_offsets(store)
        assert offsets == result.clock_offsets
        # knowledge time with the measured offsets: trades are known when the corrected receipt says so
        known = store.as_of("trades", "2026-03-03T12:00Z", clock_offsets=offsets)
        raw = _concat(shared_data, "btcusdt_trades_*.parquet")
        expected = np.maximum(raw["ts"], raw["received_at"] + offsets["binance"]).sort_values()
        assert (known["known_at"].sort_values().to_numpy() == expected.to_numpy()).all()
        return result


def test_real_sample_anomalies_offsets_and_completeness(real_result: QualityResult, shared_data: Path) -> None:
    r = real_result
    an = r.anomalies.set_index(["series", "flag"])["count"]
    for iv in ("5m", "15m"):
        q = _concat(shared_data, f"polymarket_btc_{iv}_quotes_*.parquet")
        assert an[(f"quotes {iv}", "crossed")] == int((q["best_bid_up"] > q["best_ask_up"]).sum())
        assert an[(f"quotes {iv}", "one_sided")] == int((q["best_bid_up"].isna() ^ q["best_ask_up"].isna()).sum()) > 0
    assert an.xs("crossed", level=1).sum() > 0  # README: the sample has crossed quotes
    comp = r.completeness.set_index(["series", "day"])
    ds = comp.loc[("oracle chainlink-data-streams", pd.Timestamp("2026-06-08").date())]
    assert (ds["rows"], ds["expected"]) == (86_400 - 1_842, 86_400)  # README: 1,842 of 86,400 seconds missing
    assert ds["coverage"] == pytest.approx(ds["completeness"])  # whole missing seconds: the two measures agree
    off = r.receipt_offsets.set_index("collector")["offset_s"]
    assert 2.6 < off["binance"] < 2.8  # README: ~2.7 s early on 98 % of trades
    assert 2.3 < off["chainlink-polygon-aggregator"] < 2.8  # README: ~2.3 s early on 94 %; same machine
    assert off["chainlink-data-streams"] == 0.0
    assert set(r.clock_offsets) == {"binance", "chainlink-polygon-aggregator", "chainlink-data-streams"}


def test_real_sample_label_flips_match_the_files(real_result: QualityResult, shared_data: Path) -> None:
    """Reference: every 1m kline file and every markets file of the sample, by hand (no name beyond the
    prefixes: the sample's periods may change)."""
    k = _concat(shared_data, "btcusdt_1m_*.parquet")
    k = k[k["symbol"] == "BTCUSDT"].drop_duplicates("ts").set_index("ts")
    la = real_result.label_agreement.set_index(["comparison", "interval_minutes"])
    for iv in (5, 15):
        m = _concat(shared_data, f"polymarket_btc_{iv}m_markets_*.parquet").drop_duplicates("slug")
        start_open = k["open"].reindex(m["window_start"]).to_numpy()
        end_close = k["close"].reindex(m["window_end"] - pd.Timedelta(minutes=1)).to_numpy()
        ok = ~np.isnan(start_open) & ~np.isnan(end_close) & m["outcome_up"].notna().to_numpy()
        proxy = (end_close[ok] >= start_open[ok]).astype(int)
        flips = int((proxy != m["outcome_up"].to_numpy()[ok].astype(int)).sum())
        row = la.loc[("exchange vs recorded", str(iv))]
        assert (row["n"], row["flips"]) == (int(ok.sum()), flips)
    assert 0.0 < la.loc[("exchange vs recorded", "all"), "flip_rate"] < 0.05  # README: 0.6 % (15m), 2.1 % (5m)
    oracle = la.loc[("oracle vs recorded", "all")]
    assert oracle["n"] > 250 and oracle["flips"] == 0  # README: 537 of 537 on the settlement rule
    html_page = quality_html(real_result)
    _check_html(html_page, _n_figures(real_result))
    assert re.search(r"no exchange series overlaps", html_page)


def test_duckdb_and_postgresql_give_the_same_assessment(shared_data: Path, pg_url: str) -> None:
    # the first file of each prefix: the 15-minute quotes and their markets, trades, the Polygon oracle
    prefixes = {"quotes": "polymarket_btc_15m_quotes_", "trades": "btcusdt_trades_", "oracle": "chainlink_btcusd_2"}
    items = [(kind, read_file(f), f.name) for kind, prefix in prefixes.items()
             for f in sorted(shared_data.glob(f"{prefix}*.parquet"))[:1]]
    quoted = set(items[0][1]["slug"])
    markets = _concat(shared_data, "polymarket_btc_15m_markets_*.parquet")
    items.append(("markets", markets[markets["slug"].isin(quoted)].drop_duplicates("slug"), "markets"))
    out = []
    for url in ("duckdb:///:memory:", pg_url):
        with connect(url) as store:
            store.load_frames(items)
            r = assess_quality_with_labels(store)
        out.append(r)
    duck, pg = out
    assert duck.summary().names == pg.summary().names
    for name in duck.summary():
        pd.testing.assert_frame_equal(duck.summary()[name], pg.summary()[name])
    assert duck.summary().notes == pg.summary().notes
    pd.testing.assert_frame_equal(duck.anomalies, pg.anomalies)
    pd.testing.assert_frame_equal(duck.receipt_offsets, pg.receipt_offsets)
    pd.testing.assert_frame_equal(duck.completeness, pg.completeness)


def _tiny_frames() -> list[tuple[str, pd.DataFrame, str]]:
    """Nine 1-minute bars from 00:00 to 00:09 without the 00:04 bar, and three 5-minute markets (00:00, 00:05,
    00:15; none at 00:10), the last without a recorded outcome. Other columns are a simulated world's."""
    w = simulate("edge", days=0.05, seed=1)
    start = pd.Timestamp("2026-06-15", tz="UTC")
    bars = [i for i in range(10) if i != 4]
    k = w.klines.iloc[: len(bars)].copy()
    k["ts"] = pd.DatetimeIndex([start + pd.Timedelta(minutes=i) for i in bars]).astype("datetime64[us, UTC]")
    k["open"] = [100.0 + i for i in bars]
    k["close"] = k["open"] + 0.5
    k["high"], k["low"] = k["close"] + 1.0, k["open"] - 1.0
    m = w.markets[w.markets["interval_minutes"] == 5].iloc[:3].copy()
    ws = pd.DatetimeIndex([start + pd.Timedelta(minutes=n) for n in (0, 5, 15)]).astype("datetime64[us, UTC]")
    m["window_start"], m["window_end"] = ws, ws + pd.Timedelta(minutes=5)
    m["slug"] = [f"btc-updown-5m-{int(t.timestamp())}" for t in ws]
    m["outcome_up"] = pd.array([1, 0, pd.NA], dtype="Int8")
    return [("klines", k, "k"), ("markets", m, "m")]


def test_a_hand_built_store_pins_series_completeness_gaps_markets_and_flips() -> None:
    """Every figure by hand: 9 bars over a 540 s span, one 120 s spacing (a gap leaving 60 s uncovered, one bar
    missing); 10 bars expected in the day (the span plus the last bar's minute); 3 of 4 market windows between
    the first and last, 2 of 3 resolved; the exchange proxy of the 00:05 market is close(00:09) 109.5 >= open(00:05)
    105, i.e. Up against its recorded Down; the 00:00 market lacks its last bar (00:04), the 00:15 market its bars."""
    with connect("duckdb:///:memory:") as store:
        store.load_frames(_tiny_frames())
        r = assess_quality_with_labels(store)
        alone = assess_quality(store)
        sources = outcome_sources(store)
        with pytest.raises(ValueError, match=r"labels lack the columns \['oracle', 'exchange'\]"):
            assess_quality(store, labels=sources.table.drop(columns=["oracle", "exchange"]))
    name = "klines BTCUSDT 1m simulator"
    row = r.series.set_index("series").loc[name]
    assert (row["regular"], row["step_s"], row["rows"], row["gaps"], row["missing"]) == (True, 60.0, 9, 1, 1)
    assert row["gap_s"] == 60.0 and row["coverage"] == pytest.approx(1 - 60 / 540, rel=1e-15)
    day = r.completeness.set_index("series").loc[name]
    assert (day["rows"], day["expected"], day["completeness"]) == (9, 10, 0.9)
    assert day["coverage"] == pytest.approx(1 - 60 / 600, rel=1e-15)
    gap = r.gaps.iloc[0]
    assert len(r.gaps) == 1 and gap["duration_s"] == 120.0 and gap["missing"] == 1
    assert (gap["start"], gap["end"]) == (pd.Timestamp("2026-06-15 00:03", tz="UTC"),
                                          pd.Timestamp("2026-06-15 00:05", tz="UTC"))
    mk = r.completeness.set_index("series").loc["markets 5m simulator"]
    assert (mk["rows"], mk["expected"], mk["completeness"]) == (3, 4, 0.75)
    assert mk["coverage"] == pytest.approx(2 / 3, rel=1e-15)
    assert r.labels["exchange"].tolist() == [pd.NA, 1, pd.NA] and r.labels["oracle"].isna().all()
    la = r.label_agreement.set_index(["comparison", "interval_minutes"])
    assert la.loc[("exchange vs recorded", "all"), ["n", "flips"]].tolist() == [1, 1]
    assert la.loc[("oracle vs recorded", "all"), "n"] == 0 and np.isnan(la.loc[("oracle vs recorded", "all"),
                                                                               "flip_rate"])
    assert r.notes[-1] == "no chainlink-data-streams ticks over the markets' windows: no oracle outcomes"
    # alone, the data layer assesses everything but the labels, and says so
    for field in ("series", "completeness", "gaps", "anomalies", "spread_by_hour", "clock_skew", "receipt_offsets"):
        pd.testing.assert_frame_equal(getattr(alone, field), getattr(r, field))
    assert alone.labels.empty and alone.label_agreement["n"].sum() == 0 and len(alone.label_agreement) == 3
    assert alone.notes[:-1] == r.notes[:-1] and alone.notes[-1].startswith("label flips: not assessed")


def test_the_result_holds_read_only_mappings(sim_result: QualityResult) -> None:
    r = sim_result
    for mapping in (r.counts, r.skew_curves, r.clock_offsets):
        with pytest.raises(TypeError):
            mapping["x"] = 0  # type: ignore[index]
    assert r.clock_offsets is r.clock_offsets  # cached on the result
    assert dict(r.clock_offsets) == {"chainlink-data-streams": pd.Timedelta(0),
                                     "chainlink-polygon-aggregator": pd.Timedelta(0),
                                     "polymarket": pd.Timedelta(0)}
