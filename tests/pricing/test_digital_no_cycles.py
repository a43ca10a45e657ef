"""gaussian_jump_up_probability leaves no reference cycles behind (they held its Poisson weights until the
cyclic GC ran: ~1 KB per point piled up over a simulated world's belief grid)."""

from __future__ import annotations

import gc

import numpy as np

from pmresearch.pricing.digital import gaussian_jump_up_probability


def test_no_garbage_cycles_after_a_call() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    mean, var = 1e-3 * rng.standard_normal(n), np.full(n, 1e-6)
    jumps = [(rng.uniform(0.0, 14.0, n), 0.0, 1e-7), (np.full(n, 0.5), 1e-4, 1e-7)]
    gaussian_jump_up_probability(mean, var, jumps)  # first call: lazy imports and compiled kernels load
    gc.collect()
    gc.disable()
    try:
        p = gaussian_jump_up_probability(mean, var, jumps)
        found = gc.collect()  # unreachable objects the call left for the cyclic collector
    finally:
        gc.enable()
    assert p.shape == (n,) and np.all((p >= 0.0) & (p <= 1.0))
    assert found == 0
