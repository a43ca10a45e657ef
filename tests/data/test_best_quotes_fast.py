"""The compiled best_quotes (pmresearch.data.books.best_quotes): the same frames as the plain-Python loop it replaced.

Reference: ``_best_quotes_reference`` below, the previous implementation (a dict per side and token, updated row by
row through pandas groupby), copied here with the helpers it used (``_token_meta``, ``_groups``, ``_utc_us``) so it
stays independent of the module. Inputs: the real websocket sample (``../shared/data/polymarket_ws_*.jsonl.gz``,
through the importer), the simulator's event-level books (pmresearch.simulate.maker_book) and random streams.
Frames are compared exactly (pandas.testing.assert_frame_equal, dtypes included).
"""

from __future__ import annotations

import gzip
import itertools
import math
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from pmresearch.data import books
from pmresearch.data.importers import websocket_log
from pmresearch.simulate import maker_book as mb

US = 1_000_000
T0 = 1_780_000_000_000_000
N_LINES = 3_000


# --- the reference: the previous implementation, verbatim ------------------------------------------------------------
def _utc_us(values: Any) -> pd.Series:
    return pd.Series(np.asarray(values, dtype="int64").view("datetime64[us]")).dt.tz_localize("UTC")


def _token_meta(frame: pd.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    meta: dict[str, tuple[str | None, str | None]] = {}
    for token, grp in frame.groupby("token_id", sort=False, observed=True):
        slug = grp["slug"].dropna()
        outcome = grp["outcome"].dropna()
        meta[str(token)] = (str(slug.iloc[0]) if len(slug) else None,
                            str(outcome.iloc[0]) if len(outcome) else None)
    return meta


def _groups(frame: pd.DataFrame) -> Iterable[tuple[str, int, pd.DataFrame]]:
    if frame.empty:
        return
    ts = frame["ts"].dt.tz_convert("UTC").astype("datetime64[us, UTC]").astype("int64").to_numpy()
    data = frame.assign(_us=ts).sort_values(["_us"], kind="stable")
    for key, grp in data.groupby(["_us", "token_id"], sort=False, observed=True):
        us, token = cast(tuple[Any, Any], key)
        yield str(token), int(us), grp


def _best_quotes_reference(events: pd.DataFrame) -> pd.DataFrame:
    book_pairs: dict[str, tuple[dict[Any, Any], dict[Any, Any]]] = {}
    meta = _token_meta(events)
    rows: list[tuple[Any, ...]] = []
    for token, us, grp in _groups(events):
        bids, asks = book_pairs.setdefault(token, ({}, {}))
        for side, price, size in zip(grp["side"].tolist(), grp["price"].tolist(), grp["size"].tolist(), strict=True):
            book = bids if side == "bid" else asks
            if size == 0:
                book.pop(price, None)
            else:
                book[price] = size
        bb = max(bids) if bids else np.nan
        ba = min(asks) if asks else np.nan
        rows.append((us, *meta[token][:1], token, meta[token][1], bb, bids.get(bb, np.nan), ba,
                     asks.get(ba, np.nan)))
    frame = pd.DataFrame(rows, columns=["ts", "slug", "token_id", "outcome", "best_bid", "bid_size",
                                        "best_ask", "ask_size"])
    frame["ts"] = _utc_us(frame["ts"].to_numpy(dtype="int64"))
    return frame


# --- inputs --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ws_events(shared_data: Path) -> pd.DataFrame:
    """``book_events`` of the first lines of the first real recording (plain text columns, slug null)."""
    src = sorted(shared_data.glob("polymarket_ws_*.jsonl.gz"))[0]
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        lines = list(itertools.islice(fh, N_LINES))
    frames, _ = websocket_log(lines, where="ws")
    return frames["book_events"]


def belief_path(rng: np.random.Generator, start_us: int, minutes: int = 5, step_s: float = 0.25) -> tuple[
        np.ndarray, np.ndarray]:
    n = int(minutes * 60 / step_s)
    ts = start_us + np.round(np.arange(n) * step_s * US).astype(np.int64)
    sig = 0.45 / math.sqrt(365 * 86400)
    x = np.r_[0.0, np.cumsum(sig * math.sqrt(step_s) * rng.standard_normal(n - 1))]
    tau = np.maximum(minutes * 60 - np.arange(n) * step_s, step_s)
    return ts, norm.cdf(x / (sig * np.sqrt(tau)))


def maker_events(seed: int, n_markets: int = 3, minutes: int = 1) -> pd.DataFrame:
    """Several simulated markets over the same minutes, their rows interleaved in time (categorical text)."""
    frames = []
    for m in range(n_markets):
        rng = np.random.default_rng(seed * 100 + m)
        ts, p = belief_path(rng, T0, minutes)
        ev, _ = mb.maker_book_events(ts, p, T0, T0 + minutes * 60 * US, rng, mb.MakerBookParams.for_window(5))
        frames.append(mb.events_frame(ev, f"m{m}", (f"u{m}", f"d{m}")))
    text = ["slug", "token_id", "outcome", "side"]
    out = pd.concat([f.astype(dict.fromkeys(text, object)) for f in frames], ignore_index=True)
    out = out.sort_values("ts", kind="stable").reset_index(drop=True)
    return out.astype(dict.fromkeys(text, "category"))


def random_events(seed: int, n: int = 3_000) -> pd.DataFrame:
    """Rows in random order: few tokens, few instants (ties across tokens), a handful of prices (the best level
    removed often, sides emptied), half the sizes 0, slug and outcome sometimes null, some token ids null."""
    rng = np.random.default_rng(seed)
    tokens = np.array(["a", "b", "c", None], dtype=object)[rng.choice(4, n, p=[0.4, 0.3, 0.28, 0.02])]
    price = rng.choice([0.0, 0.001, 0.3, 0.45, 0.451, 0.46, 0.5, 0.999, 1.0], n)
    size = np.where(rng.random(n) < 0.5, 0.0, np.round(rng.gamma(2.0, 50.0, n), 2))
    slug = np.where(rng.random(n) < 0.3, None, np.char.add("s-", tokens.astype(str)).astype(object))
    outcome = np.where(rng.random(n) < 0.5, None, rng.choice(np.array(["Up", "Down"], dtype=object), n))
    return pd.DataFrame({
        "ts": pd.Series((T0 + rng.integers(0, 200, n) * 1000).view("datetime64[us]")).dt.tz_localize("UTC"),
        "slug": slug, "token_id": tokens, "outcome": outcome,
        "side": rng.choice(np.array(["bid", "ask"], dtype=object), n), "price": price, "size": size})


def kernel_inputs(events: pd.DataFrame) -> tuple[Any, ...]:
    """The kernel's arrays, built here from the frame (rows with a token, sorted by time stably)."""
    us = events["ts"].astype("datetime64[us, UTC]").astype("int64").to_numpy()
    codes, uniques = pd.factorize(events["token_id"].astype(object))
    order = np.argsort(us, kind="stable")
    order = order[codes[order] >= 0]
    slot = np.rint(events["price"].to_numpy() * 1000).astype(np.int64)
    bid = (events["side"].astype(object) == "bid").to_numpy()
    zero = (events["size"] == 0).to_numpy()
    return (us[order], codes[order].astype(np.int64), slot[order], bid[order], zero[order], len(uniques))


def assert_same(events: pd.DataFrame) -> pd.DataFrame:
    want = _best_quotes_reference(events)
    got = books.best_quotes(events)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    return got


# --- (1) the real sample -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["as imported", "category", "object"])
def test_real_websocket_events_give_the_reference_frame(ws_events: pd.DataFrame, text: str) -> None:
    ev = ws_events
    cols = ["slug", "token_id", "outcome", "side"]
    if text != "as imported":
        ev = ev.astype(dict.fromkeys(cols, text))
    got = assert_same(ev)
    assert len(got) > 500 and got["token_id"].nunique() >= 2
    # the sample exercises ties across tokens and removals of the best level
    assert got.duplicated("ts").any()
    assert (ws_events["size"] == 0).sum() > 100


def test_real_events_in_shuffled_row_order_give_the_reference_frame(ws_events: pd.DataFrame) -> None:
    ev = ws_events.sample(frac=1.0, random_state=3)  # the index is permuted too
    assert_same(ev)
    assert_same(ws_events.iloc[::-1])


# --- (2) simulated books and random streams ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2])
def test_simulated_markets_interleaved_give_the_reference_frame(seed: int) -> None:
    ev = maker_events(seed)
    got = assert_same(ev)
    assert got["token_id"].nunique() == 6 and got.duplicated("ts").any()
    # a Down token's book mirrors its Up token's, so quotes pair up at the same instants
    up = got[got["outcome"] == "Up"]
    assert len(up) > 100


@pytest.mark.parametrize("seed", range(6))
def test_random_streams_give_the_reference_frame(seed: int) -> None:
    ev = random_events(seed)
    got = assert_same(ev)
    assert got[["best_bid", "best_ask"]].isna().any(axis=None)  # empty sides occur
    assert got.duplicated("ts").any()  # ties across tokens
    assert_same(ev.astype({"token_id": "category", "side": "category", "slug": "category"}))


def test_hand_made_stream_removals_empty_sides_and_tie_order() -> None:
    rows = [  # (ms, token, side, price, size)
        (0, "A", "bid", 0.40, 10.0), (0, "A", "bid", 0.42, 5.0), (0, "A", "ask", 0.45, 7.0),
        (1, "B", "ask", 0.60, 1.0),
        (2, "B", "ask", 0.60, 0.0),  # B's only ask removed: empty side
        (2, "A", "bid", 0.42, 0.0),  # A's best bid removed: the next level is the best
        (2, "A", "bid", 0.42, 0.0),  # removing an absent level changes nothing
        (3, "A", "bid", 0.40, 3.0), (3, "A", "ask", 0.45, 0.0), (3, "A", "ask", 0.47, 2.0),
    ]
    ev = pd.DataFrame({
        "ts": pd.Series([pd.Timestamp(T0 + ms * 1000, unit="us", tz="UTC") for ms, *_ in rows]),
        "slug": "s", "token_id": [r[1] for r in rows], "outcome": "Up",
        "side": [r[2] for r in rows], "price": [r[3] for r in rows], "size": [r[4] for r in rows]})
    got = assert_same(ev)
    # at 2 ms B comes first (its first row at that instant is first), though A was seen earlier overall
    assert got["token_id"].tolist() == ["A", "B", "B", "A", "A"]
    assert got["best_bid"].tolist()[3:] == [0.40, 0.40] and got["bid_size"].tolist()[3:] == [10.0, 3.0]
    assert math.isnan(got["best_ask"].iloc[2]) and math.isnan(got["ask_size"].iloc[2])
    assert got["best_ask"].tolist()[-1] == 0.47 and got["ask_size"].tolist()[-1] == 2.0


def test_decimal_prices_and_sizes_give_the_reference_frame() -> None:
    ev = random_events(7, n=800)
    ev["price"] = [Decimal(f"{p:.3f}") for p in ev["price"]]
    ev["size"] = [Decimal(f"{s:.2f}") for s in ev["size"]]
    got = assert_same(ev)
    assert got["bid_size"].map(type).eq(Decimal).any()


def test_no_rows_and_no_tokens_give_the_reference_frame() -> None:
    ev = random_events(0, n=50)
    assert_same(ev.iloc[:0])
    assert_same(ev.assign(token_id=None))


@pytest.mark.parametrize(("value", "shown"), [(0.4505, "0.4505"), (1.001, "1.001"), (-0.001, "-0.001"),
                                              (float("nan"), "nan")])
def test_a_price_off_the_grid_is_refused_naming_column_and_row(value: float, shown: str) -> None:
    ev = random_events(1, n=40).set_index(pd.RangeIndex(100, 140))
    ev = ev[ev["token_id"].notna()]
    ev.iloc[5, ev.columns.get_loc("price")] = value
    label = ev.index[5]
    with pytest.raises(ValueError, match=rf"column 'price', row 5 \(index {label}\): {shown} is not a multiple"):
        books.best_quotes(ev)
    ev.iloc[5, ev.columns.get_loc("price")] = 0.45 + 1e-10  # within the tolerance: accepted
    assert len(books.best_quotes(ev)) > 0


def test_up_quotes_of_the_fast_frame_are_those_of_the_reference() -> None:
    ev = maker_events(4, n_markets=1)
    pd.testing.assert_frame_equal(books.up_quotes(books.best_quotes(ev)), books.up_quotes(_best_quotes_reference(ev)))


# --- (3) the plain-Python kernel and its numba twin ----------------------------------------------------------------
@pytest.mark.parametrize("source", ["maker", "random"])
def test_numba_kernel_equals_the_plain_python_kernel(source: str) -> None:
    ev = maker_events(5) if source == "maker" else random_events(5, n=5_000)
    args = kernel_inputs(ev)
    _, kernel_nb = books._quote_kernels_nb()
    assert kernel_nb.py_func is books._quotes_kernel_python  # the compiled twin of the very function
    py = books._quotes_kernel_python(*args)
    nb = kernel_nb(*args)
    assert py[0] == nb[0] and py[0] > 100
    for a, b in zip(py[1:], nb[1:], strict=True):
        np.testing.assert_array_equal(a, b)
    assert (py[3] < 0).any() or source == "maker"  # random streams empty the bid side sometimes
    pd.testing.assert_frame_equal(books.best_quotes(ev, compiled=False), books.best_quotes(ev), check_exact=True)
