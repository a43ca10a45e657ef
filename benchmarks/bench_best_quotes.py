"""Best-quote benchmark: ``pmresearch.data.books.best_quotes`` (numba) vs the plain-Python loop it replaced.

One simulated hour of BTC markets from the event-level maker book (pmresearch.simulate.maker_book): twelve
consecutive 5-minute windows and four 15-minute windows over the same hour, both tokens each, their
``book_events`` rows interleaved in time (~320,000 rows, categorical text, as the importer and the simulator
give them). The baseline is ``_best_quotes_reference`` of tests/data/test_best_quotes_fast.py, the previous
implementation (a dict per side and token updated row by row through a pandas groupby), which that test holds
the new code equal to. Printed: both wall times on the same rows (the new one after a warm-up compile), their
ratio, and the new one's rate on ten copies of the hour under other token ids (~3.2 M rows).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _timing import best_time
from bench_maker_book import belief_path  # the same belief paths as the maker-book benchmark

from pmresearch.data import books
from pmresearch.simulate import maker_book as mb

US = 1_000_000
HOUR0 = 1_780_000_000_000_000 - 1_780_000_000_000_000 % (3_600 * US)
TEXT = ["slug", "token_id", "outcome", "side"]


def _reference() -> Any:
    """``_best_quotes_reference`` from the test file (the one copy of the old implementation)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "test_best_quotes_fast.py"
    spec = importlib.util.spec_from_file_location("_test_best_quotes_fast", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._best_quotes_reference


def hour_of_events(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for minutes in (5, 15):
        for w in range(60 // minutes):
            start = HOUR0 + w * minutes * 60 * US
            ts, p = belief_path(rng, start, minutes)
            ev, _ = mb.maker_book_events(ts, p, start, start + minutes * 60 * US, rng,
                                         mb.MakerBookParams.for_window(minutes))
            frames.append(mb.events_frame(ev, f"m{minutes}-{w}", (f"u{minutes}-{w}", f"d{minutes}-{w}")))
    out = pd.concat([f.astype(dict.fromkeys(TEXT, object)) for f in frames], ignore_index=True)
    return out.sort_values("ts", kind="stable").reset_index(drop=True).astype(dict.fromkeys(TEXT, "category"))


def bench_best_quotes() -> str:
    events = hour_of_events()
    books.best_quotes(events.iloc[:1_000])  # compiled (or loaded from the cache) before timing
    reference = _reference()
    t_new = best_time(lambda: books.best_quotes(events))
    t_ref = best_time(lambda: reference(events), repeat=1)
    n_out = len(books.best_quotes(events))
    copies = [events.assign(token_id=events["token_id"].cat.rename_categories(lambda c, k=k: f"{c}-{k}"))
              for k in range(10)]
    big = pd.concat([c.astype({"token_id": object}) for c in copies], ignore_index=True)
    big = big.sort_values("ts", kind="stable").reset_index(drop=True).astype({"token_id": "category"})
    t_big = best_time(lambda: books.best_quotes(big), repeat=2)
    n_tok, n_big_tok = events["token_id"].nunique(), big["token_id"].nunique()
    return (f"best quotes: one simulated hour ({len(events):,} book_events rows, {n_tok} tokens, {n_out:,} quote "
            f"rows) numba {t_new * 1e3:.0f} ms vs the plain-Python reference loop {t_ref:.1f} s: ratio "
            f"{t_ref / t_new:,.0f}x; {len(big):,} rows ({n_big_tok} tokens) in {t_big:.2f} s "
            f"({len(big) / t_big / 1e6:.1f} M rows/s)")


BENCHMARKS = [bench_best_quotes]


if __name__ == "__main__":
    for fn in BENCHMARKS:
        print(fn())
