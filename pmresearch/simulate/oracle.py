"""Oracle feeds derived from the 1 Hz settlement stream.

The push-style feed (Chainlink's on-chain aggregator behaviour) publishes a new round when the
price has moved by ``deviation`` (relative) since the last published round, or when ``heartbeat_s``
seconds have passed since it. It is a sequential rule, so it has a plain Python reference
(:func:`push_update_indices_py`) and a numba kernel (:func:`push_update_indices`) tested against it.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from pmresearch._typing import FloatArray, IntArray

__all__ = ["push_update_indices", "push_update_indices_py", "twap_values"]


def push_update_indices_py(
    ts_s: npt.ArrayLike, price: npt.ArrayLike, deviation: float, heartbeat_s: float
) -> IntArray:
    """Indices of the ticks the push feed publishes (plain Python reference implementation).

    The first tick is always published; tick ``i`` is published when
    ``|price_i / last - 1| >= deviation`` or ``ts_i - ts_last >= heartbeat_s``.
    """
    t = np.asarray(ts_s, dtype=np.float64)
    p = np.asarray(price, dtype=np.float64)
    if t.size == 0:
        return np.empty(0, dtype=np.int64)
    out = [0]
    last_p, last_t = p[0], t[0]
    for i in range(1, t.size):
        if abs(p[i] / last_p - 1.0) >= deviation or t[i] - last_t >= heartbeat_s:
            out.append(i)
            last_p, last_t = p[i], t[i]
    return np.asarray(out, dtype=np.int64)


@numba.njit(cache=True)
def _push_kernel(t: FloatArray, p: FloatArray, deviation: float, heartbeat_s: float) -> IntArray:
    n = t.size
    out = np.empty(n, dtype=np.int64)
    if n == 0:
        return out[:0]
    out[0] = 0
    k = 1
    last_p = p[0]
    last_t = t[0]
    for i in range(1, n):
        if abs(p[i] / last_p - 1.0) >= deviation or t[i] - last_t >= heartbeat_s:
            out[k] = i
            k += 1
            last_p = p[i]
            last_t = t[i]
    return out[:k]


def push_update_indices(
    ts_s: npt.ArrayLike, price: npt.ArrayLike, deviation: float, heartbeat_s: float
) -> IntArray:
    """Numba version of :func:`push_update_indices_py` (same result, compiled loop)."""
    t = np.ascontiguousarray(ts_s, dtype=np.float64)
    p = np.ascontiguousarray(price, dtype=np.float64)
    result: IntArray = _push_kernel(t, p, float(deviation), float(heartbeat_s))
    return result


def twap_values(price: npt.ArrayLike, end_index: npt.ArrayLike, lookback: int) -> FloatArray:
    """Arithmetic mean of the ``lookback`` 1 Hz ticks ending at each ``end_index`` (inclusive)."""
    p = np.asarray(price, dtype=np.float64)
    idx = np.asarray(end_index, dtype=np.int64)
    if lookback < 1:
        raise ValueError("TWAP lookback must be >= 1 tick")
    if np.any(idx - lookback + 1 < 0) or np.any(idx >= p.size):
        raise ValueError("TWAP window reaches outside the oracle series")
    windows = np.lib.stride_tricks.sliding_window_view(p, lookback)
    return np.asarray(windows[idx - lookback + 1].mean(axis=1), dtype=np.float64)
