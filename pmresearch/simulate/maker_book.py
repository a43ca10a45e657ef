"""An event-level maker book for one binary market: the Up and Down books at event times.

Stand-alone generator of the simulator's order books (issue 13, points 1 and 2), in the one book
representation of :mod:`pmresearch.data.books`: book change events (one row per changed level, size 0
removes it, a token's first update gives all its levels) and full-depth snapshots at a cadence.

The model, in ticks of 0.01 on the Up token (levels at 0.01 .. 0.99, all on the venue's grid; the
Down book is the exact mirror, Down bid at ``1 - p`` for an Up ask at ``p``, :func:`books.complement`):

* **base quotes**: a best bid ``B`` and best ask ``A = B + s`` with a base spread ``s`` of 1, 2 or 3
  ticks (drawn at each re-centre), centred on the maker's belief. At every event the maker re-centres
  when the belief has left ``[mid - recenter_ticks, mid + recenter_ticks]`` (at most 1.5 ticks, so
  ``|mid - belief| <= half-spread + 1 tick`` after every event). A share ``follow_prob`` of the
  re-centres moves the stale side at once and the other side at the first event after an exponential
  lag (``follow_mean_s``): touch changes come in pairs, the burstiness of the real books.
* **events** come from independent renewal processes whose intervals are a mixture of a short
  exponential (bursts) and a lognormal (heavy tail): best-ask size changes, best-bid size changes,
  touch flickers (the best level of one side pulled, then restored after an exponential time) and
  deep-level changes; they are merged in time order.
* **sizes**: a best level's size is a two-piece lognormal (``size_p10``, ``size_median``,
  ``size_p90`` exact before thinning); a deeper level's size is lognormal around
  ``depth_median * (1 + depth_slope * distance)``.
* **thinning**: sizes drawn within ``end_thin_s`` of the window end are scaled down toward
  ``end_thin_floor``, where extra deep changes (``end_deep_rate_per_s``) redraw or remove
  (``end_remove_prob``) the levels; sizes
  are scaled by ``max(4 p (1 - p), edge_floor) ** edge_power`` for a belief ``p`` near 0 or 1.

Times are epoch microseconds (int64) throughout, as the project's integer times. The interval
statistics also depend on how fast the belief moves (re-centres are touch changes): the defaults are
calibrated with a Black-Scholes belief on the world's 0.25-s grid (the P(up) of a driftless GBM with
known vol, so the same at any vol level); a noisier or misjudged belief re-centres more often.

The hot loop is :func:`book_kernel_python` (the reference) compiled with numba as
:func:`book_kernel_nb`: every random number is drawn beforehand in NumPy, so the two give identical
rows. Entry points: :func:`maker_book_events` (arrays), :func:`events_frame` (the ``book_events``
kind), :func:`snapshots_frame` and :func:`up_quotes_from_snapshots`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

from pmresearch.config import ConfigError, Validated, param

__all__ = [
    "BookRows",
    "MakerBookParams",
    "book_kernel_nb",
    "book_kernel_python",
    "events_frame",
    "maker_book_events",
    "renewal_times",
    "snapshots_frame",
    "up_quotes_from_snapshots",
]

N_TICKS = 100  # prices are k / 100 for k in 1 .. 99
_US = 1_000_000

# event kinds
ASK_SIZE, BID_SIZE, ASK_FLICKER, BID_FLICKER, ASK_RESTORE, BID_RESTORE, DEEP = range(7)


@dataclass(frozen=True)
class MakerBookParams(Validated):
    """Parameters of the event-level maker book (defaults calibrated to the real sample, issue 13)."""

    # event timing: renewal intervals = mixture of Exp(burst_mean_s) (prob burst_weight) and a lognormal
    size_burst_weight: float = param(0.35, ge=0.0, le=1.0, doc="best-level size process: share of burst intervals")
    size_burst_mean_s: float = param(0.012, gt=0.0, le=10.0, doc="best-level size process: mean burst interval (s)")
    size_median_s: float = param(0.1, gt=0.0, le=60.0, doc="best-level size process: median of the lognormal part (s)")
    size_sigma: float = param(1.1, gt=0.0, le=4.0, doc="best-level size process: log-sd of the lognormal part")
    flicker_burst_weight: float = param(0.7, ge=0.0, le=1.0, doc="touch flickers: share of burst intervals")
    flicker_burst_mean_s: float = param(0.03, gt=0.0, le=10.0, doc="touch flickers: mean burst interval (s)")
    flicker_median_s: float = param(4.5, gt=0.0, le=600.0, doc="touch flickers: median of the lognormal part (s)")
    flicker_sigma: float = param(1.3, gt=0.0, le=4.0, doc="touch flickers: log-sd of the lognormal part")
    restore_mean_s: float = param(0.015, gt=0.0, le=60.0, doc="mean time until a pulled best level is restored (s)")
    deep_rate_per_s: float = param(2.0, ge=0.0, le=1000.0, doc="deep-level changes per second per book")
    # spread and re-centring
    spread_p1: float = param(0.93, ge=0.0, le=1.0, doc="probability of a 1-tick base spread at a re-centre")
    spread_p2: float = param(0.05, ge=0.0, le=1.0, doc="probability of a 2-tick base spread (else 3 ticks)")
    recenter_ticks: float = param(1.5, ge=0.5, le=1.5, doc="re-centre when |base mid - belief| exceeds this (ticks)")
    follow_mean_s: float = param(0.01, ge=0.0, le=10.0,
                                 doc="mean lag of the second side of a re-centre (s); 0 moves both at once")
    follow_prob: float = param(0.72, ge=0.0, le=1.0, doc="share of re-centres whose second side lags")
    # sizes (shares)
    size_p10: float = param(18.0, gt=0.0, doc="best-level size, 10th percentile before thinning")
    size_median: float = param(146.0, gt=0.0, doc="best-level size, median before thinning")
    size_p90: float = param(520.0, gt=0.0, doc="best-level size, 90th percentile before thinning")
    min_size: float = param(5.0, gt=0.0, le=1000.0, doc="smallest level size (the venue's minimum order)")
    depth_median: float = param(380.0, gt=0.0, doc="median size of a level one tick behind the best")
    depth_slope: float = param(0.0, ge=0.0, le=10.0, doc="relative growth of a deep level's median size per tick")
    depth_sigma: float = param(1.0, ge=0.0, le=4.0, doc="log-sd of a deep level's size")
    # thinning
    end_thin_s: float = param(30.0, ge=0.0, le=3600.0, doc="sizes thin over this many seconds before the window end")
    end_thin_floor: float = param(0.3, gt=0.0, le=1.0, doc="size multiplier at the window end")
    end_deep_rate_per_s: float = param(10.0, ge=0.0, le=1000.0,
                                       doc="extra deep-level changes per second within end_thin_s of the end")
    end_remove_prob: float = param(0.5, ge=0.0, le=1.0, doc="chance that a deep change removes its level at the end")
    edge_floor: float = param(0.2, gt=0.0, le=1.0, doc="floor of 4 p (1 - p) in the edge thinning")
    edge_power: float = param(0.5, ge=0.0, le=4.0, doc="power of 4 p (1 - p) scaling sizes near 0 or 1")

    @classmethod
    def for_window(cls, minutes: int, **overrides: Any) -> MakerBookParams:
        """The calibrated parameters of a window length: 5-minute windows the defaults (the real
        recordings are of 5-minute markets); 15-minute windows re-centre at 0.75 ticks (their belief moves
        slower, so a 1.5-tick band gives too few touch changes: median 0.046 s, mean 0.54 s on 2-h samples;
        0.75 gives 0.088 / 0.34). ``overrides`` set any other field."""
        if minutes not in (5, 15):
            raise ConfigError(f"MakerBookParams.for_window: minutes must be 5 or 15, got {minutes!r}")
        base: dict[str, Any] = {"recenter_ticks": 0.75} if minutes == 15 else {}
        return cls(**{**base, **overrides})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.size_p10 < self.size_median < self.size_p90:
            raise ConfigError(f"MakerBookParams: need size_p10 < size_median < size_p90, got "
                              f"{self.size_p10}, {self.size_median}, {self.size_p90}")
        if self.spread_p1 + self.spread_p2 > 1.0:
            raise ConfigError(f"MakerBookParams: spread_p1 + spread_p2 must be <= 1, got "
                              f"{self.spread_p1} + {self.spread_p2}")
        if self.min_size > self.size_p10:
            raise ConfigError(f"MakerBookParams: min_size {self.min_size} is above size_p10 {self.size_p10}")


class BookRows(NamedTuple):
    """Rows of a market's two books (parallel arrays).

    ``ts_us`` epoch microseconds (int64); ``token`` 0 Up, 1 Down; ``side`` 0 bid, 1 ask; ``tick``
    the price in ticks (price = tick / 100); ``size`` shares (0 removes, events only); ``level``
    (snapshots only, else -1) 0 the best.
    """

    ts_us: npt.NDArray[np.int64]
    token: npt.NDArray[np.int8]
    side: npt.NDArray[np.int8]
    tick: npt.NDArray[np.int16]
    size: npt.NDArray[np.float64]
    level: npt.NDArray[np.int16]

    @property
    def price(self) -> npt.NDArray[np.float64]:
        """Prices (``tick / 100``, exactly the grid's 2-decimal values)."""
        return np.round(self.tick / 100.0, 2)


def renewal_times(rng: np.random.Generator, start_us: int, end_us: int, burst_weight: float,
                  burst_mean_s: float, median_s: float, sigma: float) -> npt.NDArray[np.int64]:
    """Event times in ``(start_us, end_us)`` of a renewal process with mixture intervals (epoch us).

    Intervals: with probability ``burst_weight`` an exponential of mean ``burst_mean_s``, else a
    lognormal of median ``median_s`` and log-sd ``sigma``. The first event falls after a draw from
    the same law (no stationary start: windows are short beside the mean interval).
    """
    span_s = (end_us - start_us) / _US
    mean_s = burst_weight * burst_mean_s + (1 - burst_weight) * median_s * np.exp(sigma**2 / 2)
    chunks: list[npt.NDArray[np.float64]] = []
    total = 0.0
    while total <= span_s:
        n = int(span_s / mean_s * 1.2) + 16
        burst = rng.random(n) < burst_weight
        dt = np.where(burst, rng.exponential(burst_mean_s, n), median_s * np.exp(sigma * rng.standard_normal(n)))
        chunks.append(dt)
        total += float(dt.sum())
    t = start_us + np.round(np.cumsum(np.concatenate(chunks)) * _US).astype(np.int64)
    return t[t < end_us]


def _event_stream(rng: np.random.Generator, start_us: int, end_us: int,
                  p: MakerBookParams) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8]]:
    """Merged, strictly increasing event times and their kinds."""
    parts: list[tuple[npt.NDArray[np.int64], int]] = []
    for kind in (ASK_SIZE, BID_SIZE):
        parts.append((renewal_times(rng, start_us, end_us, p.size_burst_weight, p.size_burst_mean_s,
                                    p.size_median_s, p.size_sigma), kind))
    for kind, restore in ((ASK_FLICKER, ASK_RESTORE), (BID_FLICKER, BID_RESTORE)):
        t = renewal_times(rng, start_us, end_us, p.flicker_burst_weight, p.flicker_burst_mean_s,
                          p.flicker_median_s, p.flicker_sigma)
        back = t + np.maximum(np.round(rng.exponential(p.restore_mean_s, t.size) * _US), 1).astype(np.int64)
        parts.append((t, kind))
        parts.append((back[back < end_us], restore))
    n_deep = rng.poisson(p.deep_rate_per_s * (end_us - start_us) / _US)
    parts.append((np.sort(rng.integers(start_us + 1, end_us, n_deep)).astype(np.int64), DEEP))
    # the book thins before the end: extra deep changes (thinned sizes or removals) in the last end_thin_s
    thin_from = max(start_us + 1, end_us - round(p.end_thin_s * _US))
    n_end = rng.poisson(p.end_deep_rate_per_s * (end_us - thin_from) / _US) if end_us > thin_from else 0
    parts.append((np.sort(rng.integers(thin_from, end_us, n_end)).astype(np.int64), DEEP))
    times = np.concatenate([t for t, _ in parts])
    kinds = np.concatenate([np.full(t.size, k, dtype=np.int8) for t, k in parts])
    order = np.argsort(times, kind="stable")
    times, kinds = times[order], kinds[order]
    # strictly increasing microseconds (two processes may draw the same instant)
    if times.size:
        times = np.maximum.accumulate(times - np.arange(times.size)) + np.arange(times.size)
    keep = times < end_us
    return times[keep], kinds[keep]


def book_kernel_python(times: Any, kinds: Any, belief: Any, tau_s: Any, normals: Any, uniforms: Any,
                       start_us: int, fp: Any, snap_every_us: int, cap: int,
                       sn_cap: int) -> tuple[Any, ...]:
    """The reference book loop: Up-token books at each event, rows for both tokens.

    ``times``/``kinds``/``belief`` (the belief in ticks, 0..100) and ``tau_s`` (seconds to the window
    end) per event; ``normals`` and ``uniforms`` are pools consumed in order; ``fp`` the float
    parameters (:func:`_float_params`). The first update (at ``start_us``) gives every level; a
    snapshot of both books is taken at the first update (an event that changed a level) in each
    ``snap_every_us`` bucket (never when ``snap_every_us`` is 0). Returns ``(n_events, ev_ts, ev_tok,
    ev_side, ev_tick, ev_size, n_snap, sn_ts, sn_tok, sn_side, sn_level, sn_tick, sn_size, ok)``;
    ``ok`` False when ``cap`` event rows, ``sn_cap`` snapshot rows or a pool were too small (the caller
    retries larger). A re-centre diffs the whole book; any other event changes one level, diffed alone.
    """
    n_tk = 100
    ev_ts = np.empty(cap, np.int64)
    ev_tok = np.empty(cap, np.int8)
    ev_side = np.empty(cap, np.int8)
    ev_tick = np.empty(cap, np.int16)
    ev_size = np.empty(cap, np.float64)
    sn_ts = np.empty(sn_cap, np.int64)
    sn_tok = np.empty(sn_cap, np.int8)
    sn_side = np.empty(sn_cap, np.int8)
    sn_level = np.empty(sn_cap, np.int16)
    sn_tick = np.empty(sn_cap, np.int16)
    sn_size = np.empty(sn_cap, np.float64)
    bid = np.zeros(n_tk, np.float64)  # Up bid size at tick k (0 none)
    ask = np.zeros(n_tk, np.float64)
    old_bid = np.zeros(n_tk, np.float64)
    old_ask = np.zeros(n_tk, np.float64)
    (mu_size, sig_lo, sig_hi, min_size, depth_median, depth_slope, depth_sigma, end_thin_s, end_floor,
     end_remove, edge_floor, edge_power, spread_p1, spread_p2, recenter, follow_s, follow_prob) = (
        fp[0], fp[1], fp[2], fp[3], fp[4], fp[5], fp[6], fp[7], fp[8], fp[9], fp[10], fp[11], fp[12],
        fp[13], fp[14], fp[15], fp[16])
    n_norm = normals.shape[0]
    n_unif = uniforms.shape[0]
    iz = 0
    iu = 0
    ne = 0
    ns = 0
    ok = True
    base_b = 0
    base_a = 0
    pending = 0  # 1: the bids still to follow a re-centre, 2: the asks
    due = 0
    last_bucket = -(1 << 62)
    n = times.shape[0]
    for k in range(n + 1):
        # k == 0 is the initial book at start_us with the belief of event 0's row (prepended by the caller)
        if k == 0:
            t = start_us
            x = belief[0]
            tau = tau_s[0]
        else:
            t = times[k - 1]
            x = belief[k]
            tau = tau_s[k]
        if iz + 2 * n_tk + 4 > n_norm or iu + 8 > n_unif:
            ok = False
            break
        # size multiplier: thinning near the window end and near 0 / 1
        pp = min(max(x / n_tk, 0.0), 1.0)
        edge = max(4.0 * pp * (1.0 - pp), edge_floor) ** edge_power
        mult = edge
        if end_thin_s > 0.0 and tau < end_thin_s:
            mult = edge * (end_floor + (1.0 - end_floor) * max(tau, 0.0) / end_thin_s)
        full = k == 0  # a re-centre diffs the whole book; other events change one level (sj)
        sj = -1
        s_ask = False
        s_old = 0.0
        kind = -1 if k == 0 else kinds[k - 1]
        # re-centre the base quotes on the belief: the stale side at once, the other side later
        mid = 0.5 * (base_b + base_a)
        need = k == 0 or abs(mid - x) > recenter
        busy = pending != 0  # a re-centre during a follow-up moves both sides at once
        for step in range(2):
            do_bid = False
            do_ask = False
            lag_bid = False  # the lagging side moves all but its last tick now
            lag_ask = False
            if step == 0:
                # a pending follow-up side: due, or forced by a new re-centre
                if pending != 0 and (need or t >= due):
                    do_bid = pending == 1
                    do_ask = pending == 2
                    pending = 0
                tb = base_b
                ta = base_a
            elif need:
                u = uniforms[iu]
                iu += 1
                s = 1 if u < spread_p1 else (2 if u < spread_p1 + spread_p2 else 3)
                tb = int(np.floor(x - 0.5 * s + 0.5))
                tb = min(max(tb, 0), n_tk - 1 - s)
                ta = tb + s
                move = (tb + ta) - (base_b + base_a)
                if k == 0 or move == 0 or follow_s <= 0.0 or busy or uniforms[iu] >= follow_prob:
                    do_bid = True
                    do_ask = True
                else:
                    # moving up, the asks go first and the bids follow, the last tick later (down: the reverse)
                    do_ask = True
                    do_bid = True
                    lag_bid = move > 0
                    lag_ask = move < 0
                    pending = 1 if move > 0 else 2
                    due = t + max(int(-np.log(1.0 - uniforms[iu + 1]) * follow_s * 1e6), 1)
                iu += 2
                base_b = tb
                base_a = ta
            if not (do_bid or do_ask):
                continue
            if not full:
                for j in range(n_tk):
                    old_bid[j] = bid[j]
                    old_ask[j] = ask[j]
                full = True
            prev_b = 0
            prev_a = n_tk
            for j in range(n_tk - 1, 0, -1):
                if bid[j] > 0.0:
                    prev_b = j
                    break
            for j in range(1, n_tk):
                if ask[j] > 0.0:
                    prev_a = j
                    break
            if lag_bid:
                tb = max(tb - 1, prev_b)
            if lag_ask:
                ta = min(ta + 1, prev_a)
            for j in range(1, n_tk):
                if do_bid:
                    if j > tb:
                        bid[j] = 0.0
                    elif bid[j] == 0.0 and (j > prev_b or k == 0) and tb > 0:
                        z = normals[iz]
                        iz += 1
                        if j == tb:
                            v = mu_size + z * (sig_lo if z < 0.0 else sig_hi)
                            bid[j] = max(np.round(np.exp(v) * mult, 2), min_size)
                        else:
                            d = tb - j
                            bid[j] = max(np.round(depth_median * (1.0 + depth_slope * d)
                                                  * np.exp(depth_sigma * z) * mult, 2), min_size)
                if do_ask:
                    if j < ta:
                        ask[j] = 0.0
                    elif ask[j] == 0.0 and (j < prev_a or k == 0):
                        z = normals[iz]
                        iz += 1
                        if j == ta:
                            v = mu_size + z * (sig_lo if z < 0.0 else sig_hi)
                            ask[j] = max(np.round(np.exp(v) * mult, 2), min_size)
                        else:
                            d = j - ta
                            ask[j] = max(np.round(depth_median * (1.0 + depth_slope * d)
                                                  * np.exp(depth_sigma * z) * mult, 2), min_size)
        # the event itself
        if kind in (ASK_SIZE, BID_SIZE, ASK_RESTORE, BID_RESTORE):
            is_ask = kind in (ASK_SIZE, ASK_RESTORE)
            j = base_a if is_ask else base_b
            if 0 < j < n_tk:
                z = normals[iz]
                iz += 1
                v = mu_size + z * (sig_lo if z < 0.0 else sig_hi)
                size = max(np.round(np.exp(v) * mult, 2), min_size)
                sj = j
                s_ask = is_ask
                s_old = ask[j] if is_ask else bid[j]
                if is_ask:
                    if kind == ASK_SIZE and ask[j] == 0.0:
                        pass  # the best was pulled: a size change waits for its restore
                    else:
                        ask[j] = size
                else:
                    if kind == BID_SIZE and bid[j] == 0.0:
                        pass
                    else:
                        bid[j] = size
        elif kind == ASK_FLICKER:
            # pull the best ask when another ask stands behind it
            j = base_a
            if 0 < j < n_tk - 1 and ask[j] > 0.0:
                behind = False
                for jj in range(j + 1, n_tk):
                    if ask[jj] > 0.0:
                        behind = True
                        break
                if behind:
                    sj = j
                    s_ask = True
                    s_old = ask[j]
                    ask[j] = 0.0
        elif kind == BID_FLICKER:
            j = base_b
            if 1 < j < n_tk and bid[j] > 0.0:
                behind = False
                for jj in range(j - 1, 0, -1):
                    if bid[jj] > 0.0:
                        behind = True
                        break
                if behind:
                    sj = j
                    s_ask = False
                    s_old = bid[j]
                    bid[j] = 0.0
        elif kind == DEEP and pending == 0:
            u1 = uniforms[iu]
            u2 = uniforms[iu + 1]
            u3 = uniforms[iu + 2]
            iu += 3
            is_ask = u1 < 0.5
            width = n_tk - 1 - base_a if is_ask else base_b - 1
            if width >= 1:
                d = 1 + min(int(u2 * width), width - 1)
                j = base_a + d if is_ask else base_b - d
                remove = end_thin_s > 0.0 and tau < end_thin_s and u3 < end_remove * (1.0 - max(tau, 0.0) / end_thin_s)
                if remove:
                    size = 0.0
                else:
                    z = normals[iz]
                    iz += 1
                    size = max(np.round(depth_median * (1.0 + depth_slope * d) * np.exp(depth_sigma * z) * mult, 2),
                               min_size)
                sj = j
                s_ask = is_ask
                s_old = ask[j] if is_ask else bid[j]
                if is_ask:
                    ask[j] = size
                else:
                    bid[j] = size
        # emit the changed levels, Up then Down (Down bid at 100 - k for an Up ask at k)
        if ne + 4 * n_tk > cap:
            ok = False
            break
        ne0 = ne
        if not full and sj > 0:
            cur = ask[sj] if s_ask else bid[sj]
            if cur != s_old:
                for tok in range(2):
                    ev_ts[ne] = t
                    ev_tok[ne] = tok
                    ev_side[ne] = (1 if s_ask else 0) if tok == 0 else (0 if s_ask else 1)
                    ev_tick[ne] = sj if tok == 0 else n_tk - sj
                    ev_size[ne] = cur
                    ne += 1
        for tok in range(2 if full else 0):
            for sd in range(2):
                for j in range(1, n_tk):
                    if tok == 0:
                        cur = bid[j] if sd == 0 else ask[j]
                        was = old_bid[j] if sd == 0 else old_ask[j]
                        pj = j
                    else:
                        # Down side sd at tick j mirrors Up side (1 - sd) at 100 - j
                        cur = ask[n_tk - j] if sd == 0 else bid[n_tk - j]
                        was = old_ask[n_tk - j] if sd == 0 else old_bid[n_tk - j]
                        pj = j
                    if cur != was or (k == 0 and cur > 0.0):
                        ev_ts[ne] = t
                        ev_tok[ne] = tok
                        ev_side[ne] = sd
                        ev_tick[ne] = pj
                        ev_size[ne] = cur
                        ne += 1
        # snapshot of both books at the first update in each bucket
        if snap_every_us > 0 and ne > ne0:
            bucket = t // snap_every_us
            if bucket != last_bucket:
                last_bucket = bucket
                if ns + 4 * n_tk > sn_cap:
                    ok = False
                    break
                for tok in range(2):
                    for sd in range(2):
                        lev = 0
                        for jj in range(1, n_tk):
                            # bids by price descending, asks ascending
                            j = n_tk - jj if sd == 0 else jj
                            if tok == 0:
                                cur = bid[j] if sd == 0 else ask[j]
                            else:
                                cur = ask[n_tk - j] if sd == 0 else bid[n_tk - j]
                            if cur > 0.0:
                                sn_ts[ns] = t
                                sn_tok[ns] = tok
                                sn_side[ns] = sd
                                sn_level[ns] = lev
                                sn_tick[ns] = j
                                sn_size[ns] = cur
                                ns += 1
                                lev += 1
    return (ne, ev_ts, ev_tok, ev_side, ev_tick, ev_size, ns, sn_ts, sn_tok, sn_side, sn_level, sn_tick,
            sn_size, ok)


#: The compiled twin of the very function the tests use (DESIGN.md convention 6).
book_kernel_nb = numba.njit(cache=True, nogil=True)(book_kernel_python)


def _float_params(p: MakerBookParams) -> npt.NDArray[np.float64]:
    """The kernel's float parameters; the best size's two-piece lognormal from its quantiles."""
    z90 = 1.2815515655446004  # the standard normal's 90th percentile
    mu = np.log(p.size_median)
    return np.array([
        mu, (mu - np.log(p.size_p10)) / z90, (np.log(p.size_p90) - mu) / z90, p.min_size, p.depth_median,
        p.depth_slope, p.depth_sigma, p.end_thin_s, p.end_thin_floor, p.end_remove_prob, p.edge_floor,
        p.edge_power, p.spread_p1, p.spread_p2, p.recenter_ticks, p.follow_mean_s,
        p.follow_prob,
    ], dtype=np.float64)


def maker_book_events(belief_ts_us: npt.ArrayLike, belief_up: npt.ArrayLike, window_start_us: int,
                      window_end_us: int, rng: np.random.Generator, params: MakerBookParams | None = None, *,
                      snapshot_every_s: float = 2.0, compiled: bool = True) -> tuple[BookRows, BookRows]:
    """Book change events and full-depth snapshots of one market's Up and Down tokens.

    Parameters
    ----------
    belief_ts_us, belief_up : array_like
        The maker's belief path for the Up token: epoch microseconds (int64, increasing) and P(up)
        in [0, 1]. The belief at an event is the last one at or before it (the first before any).
    window_start_us, window_end_us : int
        The market's window (epoch microseconds): the first update, with every level, is at the
        start; no event at or after the end.
    rng : numpy.random.Generator
        The only source of randomness (the books are a deterministic function of it and the inputs).
    params : MakerBookParams, optional
        Defaults: the calibration to the real sample.
    snapshot_every_s : float
        Snapshot cadence (the :mod:`pmresearch.data.books` rule: a token's first update, then its
        first update in each new bucket); 0 gives no snapshots.
    compiled : bool
        Run the numba kernel (default) or the plain reference (the same rows).

    Returns
    -------
    events, snapshots : BookRows
        Both tokens' rows in time order (token 0 Up, 1 Down); snapshots have ``level`` set.
    """
    p = params or MakerBookParams()
    ts = np.asarray(belief_ts_us, dtype=np.int64)
    up = np.asarray(belief_up, dtype=np.float64)
    if ts.ndim != 1 or ts.shape != up.shape or ts.size == 0:
        raise ValueError(f"maker_book_events: belief_ts_us and belief_up must be equal-length 1-d arrays, "
                         f"got shapes {ts.shape} and {up.shape}")
    if np.any(np.diff(ts) <= 0):
        raise ValueError("maker_book_events: belief_ts_us must be strictly increasing")
    if not np.all((up >= 0.0) & (up <= 1.0)):
        raise ValueError("maker_book_events: belief_up must lie in [0, 1] (no NaN)")
    start, end = int(window_start_us), int(window_end_us)
    if end <= start:
        raise ValueError(f"maker_book_events: window_end_us {end} must be after window_start_us {start}")
    if not snapshot_every_s >= 0:
        raise ValueError(f"maker_book_events: snapshot_every_s must be >= 0, got {snapshot_every_s!r}")
    times, kinds = _event_stream(rng, start, end, p)
    at = np.concatenate([[start], times])
    idx = np.clip(np.searchsorted(ts, at, side="right") - 1, 0, ts.size - 1)
    belief = up[idx] * N_TICKS
    tau = (end - at) / _US
    n = times.size
    normals = rng.standard_normal(4 * n + 4 * N_TICKS + 64)
    uniforms = rng.random(6 * n + 64)
    kernel: Any = book_kernel_nb if compiled else book_kernel_python
    every_us = round(snapshot_every_s * _US)
    cap = 6 * n + 4 * N_TICKS
    # at most one snapshot (two books, <= 2 x 99 levels each) per update and per bucket the window touches
    sn_cap = (min((end - start) // every_us + 2, n + 1) * 4 * N_TICKS) if every_us > 0 else 1
    while True:
        out = kernel(times, kinds, belief, tau, normals, uniforms, start, _float_params(p), every_us, cap, sn_cap)
        if out[-1]:
            break
        cap *= 2
        sn_cap *= 2  # rare: large belief jumps refill many levels; pools grow with the same draws' prefix
        normals = np.concatenate([normals, rng.standard_normal(normals.size)])
        uniforms = np.concatenate([uniforms, rng.random(uniforms.size)])
    ne, ns = out[0], out[6]
    events = BookRows(out[1][:ne], out[2][:ne], out[3][:ne], out[4][:ne], out[5][:ne],
                      np.full(ne, -1, np.int16))
    snaps = BookRows(out[7][:ns], out[8][:ns], out[9][:ns], out[11][:ns], out[12][:ns], out[10][:ns])
    return events, snaps


def _frame(rows: BookRows, slug: str, token_ids: tuple[str, str], with_level: bool) -> pd.DataFrame:
    """Rows as a frame with dictionary-encoded text (categoricals: no Python string per row)."""
    def cat(codes: npt.NDArray[np.int8], labels: list[str]) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=pd.Index(labels, dtype=object))

    out = pd.DataFrame({
        "ts": pd.DatetimeIndex(rows.ts_us.view("datetime64[us]")).tz_localize("UTC"),
        "slug": cat(np.zeros(rows.ts_us.size, np.int8), [slug]),
        "token_id": cat(rows.token, list(token_ids)),
        "outcome": cat(rows.token, ["Up", "Down"]),
        "side": cat(rows.side, ["bid", "ask"]),
    })
    if with_level:
        out["level"] = rows.level.astype("int16")
    out["price"] = rows.price
    out["size"] = rows.size.astype("float64")
    return out


def events_frame(rows: BookRows, slug: str, token_ids: tuple[str, str]) -> pd.DataFrame:
    """``book_events`` rows (``ts, slug, token_id, outcome, side, price, size``) of :func:`maker_book_events`.

    ``token_ids`` is ``(Up token id, Down token id)``. Text columns are categoricals (as the websocket
    importer's chunks; ``.astype(object)`` for plain text). Not validated (the writer validates).
    """
    return _frame(rows, slug, token_ids, with_level=False)


def snapshots_frame(rows: BookRows, slug: str, token_ids: tuple[str, str]) -> pd.DataFrame:
    """``books`` rows (``ts, slug, token_id, outcome, side, level, price, size``) of the snapshots."""
    return _frame(rows, slug, token_ids, with_level=True)


def up_quotes_from_snapshots(snaps: BookRows) -> pd.DataFrame:
    """The Up token's best bid/ask (and sizes) at each snapshot, a quotes-like ~2-s series.

    Returns ``ts, best_bid_up, best_ask_up, bid_size_up, ask_size_up, best_bid_down, best_ask_down``
    (the Down quotes are the Down book's own, equal to the complements by construction); NaN where
    a side is empty.
    """
    top = snaps.level == 0
    ts_all = np.unique(snaps.ts_us)
    out = pd.DataFrame({"ts": pd.Series(ts_all.view("datetime64[us]")).dt.tz_localize("UTC")})
    for tok, name in ((0, "up"), (1, "down")):
        for sd, col in ((0, "bid"), (1, "ask")):
            m = top & (snaps.token == tok) & (snaps.side == sd)
            pos = np.searchsorted(ts_all, snaps.ts_us[m])
            price = np.full(ts_all.size, np.nan)
            price[pos] = snaps.price[m]
            out[f"best_{col}_{name}"] = price
            if tok == 0:
                size = np.full(ts_all.size, np.nan)
                size[pos] = snaps.size[m]
                out[f"{col}_size_up"] = size
    return out[["ts", "best_bid_up", "best_ask_up", "bid_size_up", "ask_size_up", "best_bid_down",
                "best_ask_down"]]

