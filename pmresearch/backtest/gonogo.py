"""The end-to-end go/no-go run: world -> store -> decision rows -> features -> model -> backtest -> verdict.

GO needs every criterion, each threshold fixed in the params file before the run:

* ``trades``: at least ``min_trades`` filled trades;
* ``mean net PnL per trade``: the one-sided ``confidence`` bootstrap lower bound (whole market
  windows resampled) is above 0;
* ``PnL per unit of capital at risk``: the same bound of ``sum pnl / sum capital`` is above 0.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pmresearch._progress import progress as progress_bar
from pmresearch.backtest.engine import TakerThreshold, run_taker_threshold
from pmresearch.config import param, to_mapping
from pmresearch.data.store import DuckDBStore
from pmresearch.features.basic import add_contract_features, add_realized_vol
from pmresearch.labels.decision import decision_rows
from pmresearch.metrics.trading import cluster_ratio_lower_bound, trade_stats
from pmresearch.pricing import digital_bs
from pmresearch.simulate import WorldParams, make_config, simulate_config

__all__ = ["Criterion", "GoNoGoConfig", "GoNoGoResult", "ensure_world", "evaluate", "run_go_no_go"]


@dataclass(frozen=True)
class GoNoGoConfig(WorldParams):
    """Parameters of ``notebooks/04_go_no_go.ipynb`` (one field per notebook parameter)."""

    interval_minutes: int = param(15, choices=(5, 15), doc="market window length traded")
    decision_every_s: float = param(30.0, gt=0.0, doc="seconds between decision times in a window")
    first_decision_s: float = param(60.0, ge=0.0, doc="first decision, seconds after window start")
    last_decision_s: float = param(30.0, ge=0.0, doc="last decision, at least this long before the end")
    rv_window_minutes: int = param(60, ge=5, le=1440, doc="realized-vol look-back (1-minute bars)")
    edge_threshold: float = param(0.03, ge=0.0, le=1.0, doc="net edge after fees needed to trade")
    shares: float = param(20.0, ge=5.0, doc="order size in shares")
    max_trades_per_window: int = param(1, ge=1, doc="positions per market window")
    min_trades: int = param(200, ge=1, doc="GO criterion: minimum filled trades")
    confidence: float = param(0.95, gt=0.5, lt=1.0, doc="one-sided level of the bootstrap lower bounds")
    n_bootstrap: int = param(10_000, ge=100, doc="bootstrap resamples")
    bootstrap_seed: int = param(0, ge=0, doc="bootstrap random seed")


@dataclass(frozen=True)
class Criterion:
    """One GO criterion: passed when ``value`` clears ``threshold`` (``>=`` or ``>``)."""

    name: str
    value: float
    threshold: float
    passed: bool
    rule: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (NaN becomes None)."""
        v = None if not np.isfinite(self.value) else float(self.value)
        return {"name": self.name, "value": v, "threshold": self.threshold, "passed": bool(self.passed),
                "rule": self.rule}


@dataclass(frozen=True)
class GoNoGoResult:
    """Everything a go/no-go report shows, immutable."""

    config: GoNoGoConfig
    decision: str
    criteria: tuple[Criterion, ...]
    stats: dict[str, float]
    rows: pd.DataFrame = field(repr=False)
    trades: pd.DataFrame = field(repr=False)
    counts: dict[str, int]
    sources: dict[str, dict[str, int]]
    world: dict[str, Any]
    timings: dict[str, float]

    def headline(self) -> dict[str, Any]:
        """The figures written to ``reports/04_go_no_go/<run>.json``."""
        return {
            "decision": self.decision,
            "criteria": [c.as_dict() for c in self.criteria],
            **{k: (None if not np.isfinite(v) else v) for k, v in self.stats.items()},
            "signals": self.counts.get("signals", 0),
            "missed_fills": self.counts.get("missed", 0),
            "decision_rows": len(self.rows),
            "world": self.world,
            "params": to_mapping(self.config),
        }

    def summary(self) -> pd.DataFrame:
        """The criteria as a table."""
        return pd.DataFrame([c.as_dict() for c in self.criteria]).set_index("name")

    def _repr_html_(self) -> str:
        return f"<h3>{self.decision}</h3>" + self.summary().to_html()


def evaluate(trades: pd.DataFrame, cfg: GoNoGoConfig) -> tuple[str, tuple[Criterion, ...]]:
    """Apply the GO criteria of ``cfg`` to a trade list (``pnl``, ``capital``, ``slug``)."""
    n = len(trades)
    per_trade = cluster_ratio_lower_bound(
        trades["pnl"], np.ones(n), trades["slug"], confidence=cfg.confidence,
        n_resamples=cfg.n_bootstrap, seed=cfg.bootstrap_seed,
    )
    per_capital = cluster_ratio_lower_bound(
        trades["pnl"], trades["capital"], trades["slug"], confidence=cfg.confidence,
        n_resamples=cfg.n_bootstrap, seed=cfg.bootstrap_seed + 1,
    )
    level = f"{cfg.confidence:.0%}"
    crit = (
        Criterion("trades", float(n), float(cfg.min_trades), n >= cfg.min_trades, ">="),
        Criterion(f"mean net PnL per trade, {level} lower bound", per_trade.lower, 0.0,
                  bool(np.isfinite(per_trade.lower) and per_trade.lower > 0.0), ">"),
        Criterion(f"PnL per unit of capital at risk, {level} lower bound", per_capital.lower, 0.0,
                  bool(np.isfinite(per_capital.lower) and per_capital.lower > 0.0), ">"),
    )
    return ("GO" if all(c.passed for c in crit) else "NO-GO"), crit


def ensure_world(cfg: GoNoGoConfig, root: Path, *, progress: bool = False) -> tuple[Path, dict[str, Any]]:
    """The data directory of the run: ``cfg.data_dir``, or a simulated world under ``data/sim/``.

    A simulated world is a deterministic function of its config, so one already written with the
    same config (``world.json``) is reused.
    """
    if cfg.data_dir:
        path = Path(cfg.data_dir)
        path = path if path.is_absolute() else root / path
        if not path.is_dir():
            raise FileNotFoundError(f"data_dir {path} does not exist")
        return path, {"data_dir": str(path)}
    sim_cfg = make_config(cfg.preset, days=cfg.days, seed=cfg.seed, start=cfg.start)
    tag = f"{cfg.preset}-s{cfg.seed}-{cfg.start}-{cfg.days:g}d"
    path = root / "data" / "sim" / tag
    meta_file = path / "world.json"
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("config") == to_mapping(sim_cfg):
            return path, meta["summary"]
    if path.exists():
        shutil.rmtree(path)
    world = simulate_config(sim_cfg, preset=cfg.preset, progress=progress)
    world.write(path)
    return path, world.summary()


def run_go_no_go(cfg: GoNoGoConfig, *, root: Path | None = None, progress: bool = True) -> GoNoGoResult:
    """Run the whole slice for ``cfg`` and return the verdict with everything the report shows.

    ``root`` is where relative paths and ``data/`` resolve (default: the working directory);
    ``progress`` shows progress bars over the steps and the simulation.
    """
    root = Path.cwd() if root is None else root
    timings: dict[str, float] = {}
    steps = progress_bar(total=5, desc="go/no-go", unit="step", enabled=progress)
    clock = time.perf_counter()
    data_dir, world = ensure_world(cfg, root, progress=progress)
    timings["world_s"] = time.perf_counter() - clock
    steps.update()

    if cfg.db:
        # a URL as given; a plain path (the runner resolves it against the repo root) is a DuckDB file
        url = cfg.db if "://" in cfg.db else f"duckdb:///{(root / cfg.db).resolve()}"
    else:
        db_path = root / "data" / "runs" / "04_go_no_go" / f"{cfg.run_name}.duckdb"
        db_path.parent.mkdir(parents=True, exist_ok=True)
        db_path.unlink(missing_ok=True)  # each run builds its own store: worlds never mix
        url = f"duckdb:///{db_path}"  # absolute path: duckdb:////abs/...
    clock = time.perf_counter()
    with DuckDBStore(url) as store:
        store.load_data_dir(data_dir)
        timings["load_s"] = time.perf_counter() - clock
        steps.update()
        clock = time.perf_counter()
        rows = decision_rows(store, interval_minutes=cfg.interval_minutes, every_s=cfg.decision_every_s,
                             first_s=cfg.first_decision_s, last_s=cfg.last_decision_s)
        rows = add_realized_vol(store, rows, window_minutes=cfg.rv_window_minutes)
        quotes = store.query("SELECT * FROM polymarket_quotes WHERE interval_minutes = ?", [cfg.interval_minutes])
        markets = store.query("SELECT * FROM polymarket_resolutions")
    vol_col = f"vol__rv_1m_{cfg.rv_window_minutes}m"
    rows = add_contract_features(rows, vol_col)
    timings["features_s"] = time.perf_counter() - clock
    steps.update()

    usable = rows["spot"].notna() & rows["strike"].notna() & rows[vol_col].notna()
    p_model = np.full(len(rows), np.nan)
    p_model[usable.to_numpy()] = digital_bs(
        rows.loc[usable, "spot"], rows.loc[usable, "strike"], rows.loc[usable, "contract__tau_years"],
        rows.loc[usable, vol_col],
    )
    rows["p_model"] = p_model
    if "true_prob_up" in quotes:
        q = quotes[["slug", "ts", "true_prob_up"]].sort_values("ts")
        order = rows.sort_values("t", kind="stable")
        truth = pd.merge_asof(order[["t", "slug"]].reset_index(), q, left_on="t", right_on="ts", by="slug")
        rows["true_prob_up"] = truth.set_index("index")["true_prob_up"].reindex(rows.index)
    steps.update()

    clock = time.perf_counter()
    strategy = TakerThreshold(cfg.edge_threshold, cfg.shares, cfg.max_trades_per_window)
    trades, counts = run_taker_threshold(rows, quotes, markets, strategy)
    decision, criteria = evaluate(trades, cfg)
    timings["backtest_s"] = time.perf_counter() - clock
    steps.update()
    steps.close()
    stats = trade_stats(trades)
    if "true_edge" in trades and trades["true_edge"].notna().any():
        stats["mean_true_edge_per_share"] = float(trades["true_edge"].mean())
    sources = {c: {str(k): int(v) for k, v in rows[c].value_counts(dropna=False).items()}
               for c in ("spot_source", "strike_source", "label_source")}
    return GoNoGoResult(cfg, decision, criteria, stats, rows, trades, counts, sources, world, timings)
