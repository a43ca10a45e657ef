"""Experiment of ``notebooks/04_go_no_go.ipynb``: world -> store -> decision rows and registered
features -> Model A -> taker backtest -> verdict.

Every number comes from the framework's one path: the store is :func:`pmresearch.data.store.connect`
(DuckDB or PostgreSQL), decision rows and the volatility are :func:`build_feature_matrix` with the
registered features' staleness limits, the probability is :class:`pmresearch.models.ModelA` (the
estimator notebook 06 scores), fees are :func:`pmresearch.rules.taker_fee` inside the engine.

The volatility of a row is the first of ``cfg.vol_features`` that is known at ``t`` (default: the
BTCUSDT 1-minute klines' ``vol__rv_1m_60m``, then the quote logger's ``vol__rv_ref_60m``, then the
oracle's ``vol__rv_oracle_60m``); the row says which in ``vol_source`` and how old it was in
``vol_age_s``, beside ``spot_source``/``spot_age_s`` and ``book_age_s``. A row whose vol is stale
under every source has none and is not traded.

GO needs every criterion, each threshold fixed in the params file before the run:

* ``trades``: at least ``min_trades`` filled trades;
* ``mean net PnL per trade``: the one-sided ``confidence`` bootstrap lower bound (whole market
  windows resampled) is above 0;
* ``PnL per unit of capital at risk``: the same bound of ``sum pnl / sum capital`` is above 0.

Example
-------
>>> from pmresearch.experiments.go_no_go import Config, run        # doctest: +SKIP
>>> result = run(Config(preset="edge", days=3.0, seed=5))           # doctest: +SKIP
>>> result.decision, print(result.summary())                        # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pmresearch._paths import display_path
from pmresearch._summary import Summary, summary_table
from pmresearch.backtest.engine import TakerThreshold, TruthAt, backtest_taker_threshold
from pmresearch.config import ConfigError, NestedConfig, RunnerParams, Validated, nested, param, to_mapping
from pmresearch.data.books import best_quotes, up_quotes
from pmresearch.data.importers import ingest
from pmresearch.data.store import Store, connect
from pmresearch.experiments._common import ExperimentResult, StepTimer
from pmresearch.features.families import REGISTRY
from pmresearch.features.matrix import build_feature_matrix
from pmresearch.features.vol_sources import minute_value_age_s
from pmresearch.labels.schedule import DecisionSchedule
from pmresearch.metrics.trading import cluster_ratio_lower_bound
from pmresearch.models import ModelA
from pmresearch.simulate import WorldSpec, simulate_config
from pmresearch.simulate.world import SIMULATOR_VERSION, TRUE_PROBS_FILE, truth_at

__all__ = [
    "DEFAULT_VOL_FEATURES",
    "INPUT_AGES",
    "WORLD_BOOK_KINDS",
    "Config",
    "Criterion",
    "GoCriteria",
    "GoNoGoConfig",
    "GoNoGoResult",
    "Result",
    "ensure_world",
    "evaluate",
    "model_probabilities",
    "run",
    "run_go_no_go",
    "source_counts",
    "store_touch",
    "trade_clusters",
    "world_touch",
    "world_truth",
]

#: The volatility features tried in order: klines first, then other spot sources under their own names.
DEFAULT_VOL_FEATURES = ("vol__rv_1m_60m", "vol__rv_ref_60m", "vol__rv_oracle_60m")
#: The as-of inputs of a row with their source and age columns (``<input>_source``, ``<input>_age_s``).
INPUT_AGES = {"spot": ("spot_source", "spot_age_s"), "book": (None, "book_age_s"), "vol": ("vol_source", "vol_age_s")}


@dataclass(frozen=True)
class GoCriteria(Validated):
    """The GO criteria's thresholds and their bootstrap (fixed in the params file before the run)."""

    min_trades: int = param(200, ge=1, doc="GO criterion: minimum filled trades")
    confidence: float = param(0.95, gt=0.5, lt=1.0, doc="one-sided level of the bootstrap lower bounds")
    n_bootstrap: int = param(10_000, ge=100, doc="bootstrap resamples")
    bootstrap_seed: int = param(0, ge=0, doc="bootstrap random seed")


@dataclass(frozen=True, init=False)
class GoNoGoConfig(NestedConfig):
    """Parameters of ``notebooks/04_go_no_go.ipynb``: nested configs, built from the notebook's flat
    parameters (every flat key of :func:`pmresearch.config.flat_fields` is a notebook parameter).

    ``runner`` (``run_name``, ``data_dir``, ``db``), ``world`` (:class:`~pmresearch.simulate.WorldSpec`:
    ``preset``, ``days``, ``seed``, ``start``), ``strategy`` (:class:`~pmresearch.backtest.TakerThreshold`:
    ``edge_threshold``, ``shares``, ``max_trades_per_window``, ``book_max_age_s``) and ``criteria``
    (:class:`GoCriteria`); ``GoNoGoConfig(edge_threshold=0.05)`` and ``cfg.edge_threshold`` work on the
    flat keys. Every value is checked on construction, whatever the entry path.

    ``decision_every_s``, ``first_decision_s`` and ``last_decision_s`` are deprecated names of
    ``every_s``, ``first_s`` and ``last_s`` (:func:`pmresearch.labels.schedule.rename_deprecated`).
    """

    runner: RunnerParams = nested(RunnerParams, doc="run name, data directory and store")  # noqa: RUF009
    world: WorldSpec = nested(WorldSpec, doc="the simulated world (when data_dir is empty)")  # noqa: RUF009
    interval_minutes: int = param(15, choices=(0, 5, 15),
                                  doc="market window length traded (0: both, clustered by 15-minute block)")
    every_s: float = param(30.0, gt=0.0, doc="seconds between decision times in a window")
    first_s: float = param(60.0, ge=0.0, doc="first decision, seconds after window start")
    last_s: float = param(30.0, ge=0.0, doc="last decision, at least this long before the end")
    vol_features: tuple[str, ...] = param(DEFAULT_VOL_FEATURES, doc="volatility features, first known wins")
    strategy: TakerThreshold = nested(TakerThreshold, doc="the taker threshold strategy")  # noqa: RUF009
    criteria: GoCriteria = nested(GoCriteria, doc="the GO criteria")  # noqa: RUF009

    def __post_init__(self) -> None:
        if not self.vol_features:
            raise ConfigError("GoNoGoConfig: vol_features: give at least one volatility feature")
        unknown = [n for n in self.vol_features if n not in REGISTRY]
        if unknown:
            raise ConfigError(f"GoNoGoConfig: vol_features: {unknown} are not registered features")
        not_vol = [n for n in self.vol_features if not n.startswith("vol__")]
        if not_vol:
            raise ConfigError(f"GoNoGoConfig: vol_features: {not_vol} are not in the vol family")

    @property
    def schedule(self) -> DecisionSchedule:
        """The decision schedule."""
        return DecisionSchedule(every_s=self.every_s, first_s=self.first_s, last_s=self.last_s)


Config = GoNoGoConfig


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
class GoNoGoResult(ExperimentResult):
    """Everything a go/no-go report shows, immutable (mappings are read-only views).

    Attributes
    ----------
    decision, criteria
        ``"GO"`` or ``"NO-GO"`` and the criteria it rests on (:func:`evaluate`).
    stats
        :func:`~pmresearch.metrics.trading.trade_stats` of the trades (plus the mean true edge on a
        simulated world).
    rows, trades, ages
        Decision rows, filled trades, and the age of each input (:func:`input_ages`).
    counts, sources, world
        Backtest counts (signals, missed, ...), the rows per source of each input, and the world or
        data directory read.
    """

    config: GoNoGoConfig
    decision: str
    criteria: tuple[Criterion, ...]
    stats: Mapping[str, float]
    rows: pd.DataFrame = field(repr=False)
    trades: pd.DataFrame = field(repr=False)
    counts: Mapping[str, int]
    sources: Mapping[str, Mapping[str, int]]
    ages: pd.DataFrame = field(repr=False)
    world: Mapping[str, Any]
    timings: Mapping[str, float] = field(default_factory=dict)

    def headline(self) -> dict[str, Any]:
        """The figures written to ``reports/04_go_no_go/<run>.json``."""
        return {
            "decision": self.decision,
            "criteria": [c.as_dict() for c in self.criteria],
            **{k: (None if not np.isfinite(v) else v) for k, v in self.stats.items()},
            "signals": self.counts.get("signals", 0),
            "missed_fills": self.counts.get("missed", 0),
            "orders_after_close": self.counts.get("closed", 0),
            "unlabeled_fills": self.counts.get("unlabeled", 0),
            "decision_rows": len(self.rows),
            "sources": {k: dict(v) for k, v in self.sources.items()},
            "world": dict(self.world),
            "params": to_mapping(self.config),
        }

    @functools.cached_property
    def sources_table(self) -> pd.DataFrame:
        """Rows per source (index) of each input (columns: ``spot_source``, ..., ``vol_source``), 0 where none."""
        return pd.DataFrame({k: dict(v) for k, v in self.sources.items()}).fillna(0).astype(int)

    @functools.cached_property
    def criteria_table(self) -> pd.DataFrame:
        """The criteria as a table, one row per criterion."""
        return pd.DataFrame([c.as_dict() for c in self.criteria]).set_index("name")

    def summary(self) -> Summary:
        """The verdict: the criteria, the trade statistics and the backtest counts."""
        counts = {**self.counts, "decision rows": len(self.rows)}
        return summary_table(f"Go/no-go: {self.decision}", {
            "criteria": self.criteria_table, "trades": self.stats, "counts": counts,
        }, notes=(f"GO needs every criterion; bounds are one-sided {self.config.criteria.confidence:.0%} "
                  "cluster-bootstrap lower bounds (market windows resampled)",))


Result = GoNoGoResult


def trade_clusters(trades: pd.DataFrame, cfg: GoNoGoConfig) -> pd.Series:
    """The bootstrap's clusters: market windows, or 15-minute blocks when 5- and 15-minute markets are
    pooled (``interval_minutes: 0``; their outcomes correlate, about 0.35)."""
    if cfg.interval_minutes == 0 and len(trades):
        return pd.Series(pd.DatetimeIndex(trades["window_start"]).floor("15min").astype(str), index=trades.index)
    return trades["slug"]


def evaluate(trades: pd.DataFrame, cfg: GoNoGoConfig) -> tuple[str, tuple[Criterion, ...]]:
    """Apply the GO criteria of ``cfg`` to a trade list (``pnl``, ``capital``, ``slug``, ``window_start``)."""
    n = len(trades)
    c = cfg.criteria
    clusters = trade_clusters(trades, cfg)
    per_trade = cluster_ratio_lower_bound(
        trades["pnl"], np.ones(n), clusters, confidence=c.confidence,
        n_resamples=c.n_bootstrap, seed=c.bootstrap_seed,
    )
    per_capital = cluster_ratio_lower_bound(
        trades["pnl"], trades["capital"], clusters, confidence=c.confidence,
        n_resamples=c.n_bootstrap, seed=c.bootstrap_seed + 1,
    )
    level = f"{c.confidence:.0%}"
    crit = (
        Criterion("trades", float(n), float(c.min_trades), n >= c.min_trades, ">="),
        Criterion(f"mean net PnL per trade, {level} lower bound", per_trade.lower, 0.0,
                  bool(np.isfinite(per_trade.lower) and per_trade.lower > 0.0), ">"),
        Criterion(f"PnL per unit of capital at risk, {level} lower bound", per_capital.lower, 0.0,
                  bool(np.isfinite(per_capital.lower) and per_capital.lower > 0.0), ">"),
    )
    return ("GO" if all(c.passed for c in crit) else "NO-GO"), crit


def ensure_world(cfg: GoNoGoConfig, root: Path, *, progress: bool = False) -> tuple[Path, dict[str, Any]]:
    """The data directory of the run: ``cfg.data_dir``, or a simulated world under ``data/sim/``.

    A simulated world is a deterministic function of its config and the simulator's code, so one already
    written with the same config and :data:`~pmresearch.simulate.world.SIMULATOR_VERSION` (``world.json``)
    is reused.
    """
    if cfg.runner.data_dir:
        path = Path(cfg.runner.data_dir)
        path = path if path.is_absolute() else root / path
        if not path.is_dir():
            raise FileNotFoundError(f"data_dir {path} does not exist")
        return path, {"data_dir": display_path(path)}
    w = cfg.world
    sim_cfg = w.sim_config()
    tag = f"{w.preset}-s{w.seed}-{w.start}-{w.days:g}d"
    path = root / "data" / "sim" / tag
    meta_file = path / "world.json"
    if meta_file.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("config") == to_mapping(sim_cfg) and meta.get("simulator_version") == SIMULATOR_VERSION:
            return path, meta["summary"]
    if path.exists():
        shutil.rmtree(path)
    world = simulate_config(sim_cfg, preset=w.preset, progress=progress)
    world.write(path, books=("book_events",), progress=progress)  # the taker reads the event-level book
    return path, dict(world.stats)


def store_url(cfg: GoNoGoConfig, root: Path) -> str:
    """The run's store: ``cfg.db`` as given (any backend; a plain path is a DuckDB file under
    ``root``), else a fresh ``data/runs/04_go_no_go/<run_name>.duckdb`` (worlds never mix)."""
    db = cfg.runner.db
    if db:
        return db if "://" in db else f"duckdb:///{(root / db).resolve()}"
    db_path = root / "data" / "runs" / "04_go_no_go" / f"{cfg.runner.run_name}.duckdb"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db_path.unlink(missing_ok=True)
    return f"duckdb:///{db_path}"  # absolute path: duckdb:////abs/...


def choose_vol(rows: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """``vol`` (the first of ``names`` known at each row), ``vol_source`` (its name) and ``vol_age_s``,
    the age at ``t`` of the newest price the value used: the feature ``<name>_age_s`` where it is
    registered (the other spot sources, sampled on the minute grid), else ``t - floor(t, 1 min)``
    (1-minute bar features: their newest bar closes on that boundary).
    """
    vol = pd.Series(np.nan, index=rows.index, dtype="float64")
    age = pd.Series(np.nan, index=rows.index, dtype="float64")
    source = pd.Series(None, index=rows.index, dtype="object")
    bar_age = minute_value_age_s(rows["t"])
    for name in names:
        fill = vol.isna() & rows[name].notna()
        vol[fill] = rows.loc[fill, name]
        age[fill] = (rows.loc[fill, f"{name}_age_s"] if f"{name}_age_s" in rows else bar_age[fill])
        source[fill] = name
    return pd.DataFrame({"vol": vol, "vol_source": source, "vol_age_s": age}, index=rows.index)


def input_ages(rows: pd.DataFrame) -> pd.DataFrame:
    """Per input (spot, book, vol): rows where it is known, and the median, 95th percentile and
    maximum of its age in seconds (n shown: the quantiles are over those rows)."""
    out = []
    for name, (_, age_col) in INPUT_AGES.items():
        age = rows[age_col].dropna()
        out.append({"input": name, "rows": len(rows), "known": len(age),
                    "median_age_s": float(age.median()) if len(age) else np.nan,
                    "p95_age_s": float(age.quantile(0.95)) if len(age) else np.nan,
                    "max_age_s": float(age.max()) if len(age) else np.nan})
    return pd.DataFrame(out).set_index("input")


def _read_inputs(cfg: GoNoGoConfig, store: Store) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Decision rows with the registered features and the chosen vol, the quotes and the markets."""
    ages = [f"{n}_age_s" for n in cfg.vol_features if f"{n}_age_s" in REGISTRY]
    interval = cfg.interval_minutes or None
    rows = build_feature_matrix(store, interval_minutes=interval, schedule=cfg.schedule,
                                names=[*cfg.vol_features, *ages])
    # every read ordered by its key, so both backends give the same frames row for row
    if interval is None:
        quotes = store.query('SELECT * FROM polymarket_quotes ORDER BY "slug", "ts"')
    else:
        quotes = store.query('SELECT * FROM polymarket_quotes WHERE interval_minutes = ? ORDER BY "slug", "ts"',
                             [interval])
    markets = store.read_table("polymarket_resolutions")
    return pd.concat([rows, choose_vol(rows, cfg.vol_features)], axis=1), quotes, markets


def model_probabilities(rows: pd.DataFrame, quotes: pd.DataFrame, truth: TruthAt | None = None) -> pd.DataFrame:
    """``rows`` with ``p_model`` (Model A: the Black-Scholes digital on the chosen vol, the estimator
    notebook 06 scores; NaN where spot, strike or vol is unknown) and, on a simulated world, the
    ``true_prob_up`` at each decision's own time ``t`` (``truth``, the world's truth grid; without it
    the last quote's, an older world)."""
    rows = rows.copy()
    usable = (rows["spot"].notna() & rows["strike"].notna() & rows["vol"].notna()).to_numpy()
    p_model = np.full(len(rows), np.nan)
    if usable.any():
        x = rows.loc[usable, ["spot", "strike", "tau_s", "vol"]]
        p_model[usable] = ModelA(pricer="bs", vol_column="vol").fit(x).predict_proba(x)[:, 1]
    rows["p_model"] = p_model
    if truth is not None and len(rows):
        rows["true_prob_up"] = truth(rows["slug"].to_numpy(), rows["t"])
    elif "true_prob_up" in quotes and len(rows):
        q = quotes[["slug", "ts", "true_prob_up"]].sort_values(["ts", "slug"], kind="stable")
        order = rows.sort_values(["t", "slug"], kind="stable")
        last = pd.merge_asof(order[["t", "slug"]].reset_index(), q, left_on="t", right_on="ts", by="slug")
        rows["true_prob_up"] = last.set_index("index")["true_prob_up"].reindex(rows.index)
    return rows


def source_counts(rows: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Rows per source of each input (``"none"`` where unknown), sources in sorted order."""
    return {c: {str(k): int(v) for k, v in rows[c].fillna("none").value_counts(dropna=False).sort_index().items()}
            for c in ("spot_source", "strike_source", "label_source", "vol_source")}


#: Book kinds a run's store never copies from a simulated world: the taker reads the event-level book
#: from the world's files (:func:`world_touch`), and the snapshots are not needed.
WORLD_BOOK_KINDS = ("books", "book_events")


def _intervals(cfg: GoNoGoConfig) -> tuple[int, ...]:
    return (5, 15) if cfg.interval_minutes == 0 else (cfg.interval_minutes,)


def world_touch(data_dir: Path, intervals: tuple[int, ...]) -> pd.DataFrame:
    """The Up token's best bid and ask after every event of a world directory's event-level books
    (``polymarket_btc_{5m,15m}_book_events_*``), read from the files (Up rows only: the Down book
    mirrors it), by :func:`pmresearch.data.books.best_quotes`."""
    parts = []
    for interval in intervals:
        for f in sorted(data_dir.glob(f"polymarket_btc_{interval}m_book_events_*.parquet")):
            ev = pd.read_parquet(f, columns=["ts", "slug", "token_id", "outcome", "side", "price", "size"],
                                 filters=[("outcome", "==", "Up")])
            parts.append(up_quotes(best_quotes(ev)))
            del ev
    if not parts:
        return pd.DataFrame(columns=["ts", "slug", "token_id", "best_bid_up", "best_ask_up"])
    out = pd.concat(parts, ignore_index=True)
    out["slug"] = out["slug"].astype(str)
    return out


def store_touch(store: Store, intervals: tuple[int, ...]) -> pd.DataFrame:
    """The same from a store's ``polymarket_book_events`` (real recordings), both tokens of the markets of
    ``intervals`` (a Down token's rows give the Up bid and ask by complement)."""
    if not store.count("polymarket_book_events"):
        return pd.DataFrame(columns=["ts", "slug", "token_id", "best_bid_up", "best_ask_up"])
    likes = " OR ".join(f"slug LIKE 'btc-updown-{i}m-%'" for i in intervals)
    ev = store.query("SELECT ts, slug, token_id, outcome, side, price, size FROM polymarket_book_events "
                     f"WHERE {likes} ORDER BY token_id, ts, side, price")
    if ev.empty:
        return pd.DataFrame(columns=["ts", "slug", "token_id", "best_bid_up", "best_ask_up"])
    for c in ("price", "size"):
        ev[c] = ev[c].astype("float64")
    ev["ts"] = pd.to_datetime(ev["ts"], utc=True).astype("datetime64[us, UTC]")
    out = up_quotes(best_quotes(ev))
    out["slug"] = out["slug"].astype(str)
    return out


def world_truth(data_dir: Path) -> TruthAt | None:
    """``truth(slugs, times)`` from a world directory's truth grid (:data:`TRUE_PROBS_FILE`), else None."""
    f = data_dir / TRUE_PROBS_FILE
    if not f.exists():
        return None
    grid = pd.read_parquet(f)
    return functools.partial(truth_at, grid)


def run(cfg: GoNoGoConfig, *, root: Path | None = None, progress: bool = True) -> GoNoGoResult:
    """Run the whole slice for ``cfg`` and return the verdict with everything the report shows.

    ``root`` is where relative paths and ``data/`` resolve (default: the working directory);
    ``progress`` shows progress bars over the steps and the simulation. On a simulated world the
    store gets every file but the books (:data:`WORLD_BOOK_KINDS`), the taker fills at the event-level
    book standing at its order's arrival (:func:`world_touch`), and the truth is taken at each
    decision's time and at each fill's arrival (:func:`world_truth`).
    """
    root = Path.cwd() if root is None else root
    with StepTimer(total=5, desc="go/no-go", enabled=progress) as steps:
        data_dir, world = ensure_world(cfg, root, progress=progress)
        simulated = not cfg.runner.data_dir
        steps.lap("world")
        with connect(store_url(cfg, root)) as store:
            # what `pmresearch ingest` does, websocket recordings included; a world's books stay in its files
            report = ingest(store, [data_dir], exclude_kinds=WORLD_BOOK_KINDS if simulated else ())
            steps.lap("load")
            rows, quotes, markets = _read_inputs(cfg, store)
            touch = world_touch(data_dir, _intervals(cfg)) if simulated else store_touch(store, _intervals(cfg))
        steps.lap("features")
        truth = world_truth(data_dir) if simulated else None
        rows = model_probabilities(rows, quotes, truth)
        steps.lap("model")
        backtest = backtest_taker_threshold(rows, quotes, markets, cfg.strategy, touch=touch, truth=truth)
        decision, criteria = evaluate(backtest.trades, cfg)
        steps.lap("backtest")
    trades = backtest.trades
    stats = dict(backtest.stats)
    if "true_edge" in trades and trades["true_edge"].notna().any():
        stats["mean_true_edge_per_share"] = float(trades["true_edge"].mean())
    world = {**world, "files_read": len(report.files), "files_skipped": len(report.skipped),
             "touch_rows": len(touch)}
    return GoNoGoResult(cfg, decision, criteria, stats, rows, trades, dict(backtest.counts), source_counts(rows),
                        input_ages(rows), world, steps.timings)


#: The name the notebook and older code use.
run_go_no_go = run
