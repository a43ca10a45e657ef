"""The data-quality and features experiment (``notebooks/05_data_features.ipynb``).

:func:`run` loads a simulated world or a data directory into a store, assesses its quality
(:func:`pmresearch.labels.assess_quality_with_labels`: the data checks plus the label flips), builds the
decision rows x features matrix (:func:`pmresearch.features.matrix.build_feature_matrix`, at the decision times of
``cfg.schedule``), audits the features for leakage, tests a subset for stationarity and measures how
stable a feature selection is across purged k-fold folds.

Examples
--------
>>> from pmresearch.experiments.data_features import Config, run
>>> cfg = Config(days=0.25, every_s=120.0, cv_folds=3)    # doctest: +SKIP
>>> result = run(cfg)                                      # doctest: +SKIP
>>> result.headline()["leakage_passed"]                    # doctest: +SKIP
True

Figures of a result: :mod:`pmresearch.reports.data_features` (``coverage_figure(result.matrix)``,
``stationarity_figure(result.stationarity)``, ``selection_figure(result.stability, cfg.top_k)``)
and :func:`pmresearch.reports.quality.quality_figures` of ``result.quality``.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pmresearch._paths import display_path
from pmresearch._summary import Summary, summary_table
from pmresearch.config import ConfigError, NestedConfig, RunnerParams, nested, param
from pmresearch.data.quality import QualityResult
from pmresearch.data.store import Store, connect
from pmresearch.experiments._common import ExperimentResult, StepTimer, world_field
from pmresearch.features.inputs import FeatureInputs
from pmresearch.features.leakage import LeakageAuditResult, leakage_audit
from pmresearch.features.matrix import DEFAULT_LOOKBACK, build_feature_matrix
from pmresearch.features.selection import MutualInfoSelector, SelectionStability, selection_stability
from pmresearch.features.validation import StationarityResult, stationarity_table
from pmresearch.labels import DECISION_COLUMNS, DecisionSchedule, assess_quality_with_labels
from pmresearch.model_selection import PurgedKFold
from pmresearch.simulate import WorldSpec, simulate

__all__ = [
    "NOTEBOOK",
    "Config",
    "DataFeaturesConfig",
    "DataFeaturesResult",
    "LoadedStore",
    "Result",
    "audit_by_family",
    "feature_columns",
    "feature_matrix",
    "leakage_check",
    "open_store",
    "quality_headline",
    "run",
    "selection_check",
    "stationarity_check",
    "stationarity_subset",
]

#: The notebook this experiment serves.
NOTEBOOK = "05_data_features"


@dataclass(frozen=True, init=False)
class DataFeaturesConfig(NestedConfig):
    """Parameters of ``notebooks/05_data_features.ipynb``: nested configs built from the notebook's flat
    parameters (:func:`pmresearch.config.flat_fields`), every value checked on construction.

    ``data_dir`` (in ``runner``) names a data directory to load; empty simulates ``world`` (a
    :class:`~pmresearch.simulate.WorldSpec` of at most 31 days). ``db`` names the store (a URL or a
    ``.duckdb`` path); empty builds a fresh ``data/runs/05_data_features/<run_name>.duckdb``. A given
    store that already holds rows is read as it is when ``data_dir`` is empty (nothing is simulated
    into it). Decisions are taken every ``every_s`` seconds of each window (:attr:`schedule`).
    """

    runner: RunnerParams = nested(RunnerParams, doc="run name, data directory and store")  # noqa: RUF009
    world: WorldSpec = world_field(days=1.0, max_days=31.0)  # noqa: RUF009
    interval_minutes: int = param(15, choices=(0, 5, 15), doc="market windows to use (0: every length)")
    every_s: float = param(60.0, gt=0.0, le=900.0, doc="seconds between decision times in a window")
    min_coverage: float = param(0.5, ge=0.0, le=1.0, doc="features non-null on fewer rows are left out of tests")
    leakage_rows: int = param(20, ge=1, le=1000, doc="decision rows recomputed by the leakage audit")
    stationarity_features: int = param(12, ge=1, le=200, doc="features tested for stationarity")
    stationarity_max_lag: int = param(20, ge=1, le=100, doc="largest ADF lag tried")
    cv_folds: int = param(5, ge=2, le=20, doc="purged k-fold folds of the selection-stability check")
    embargo_minutes: float = param(15.0, ge=0.0, le=1440.0, doc="purged k-fold embargo after each test fold")
    top_k: int = param(10, ge=1, le=200, doc="features kept by the mutual-information selector")

    @property
    def schedule(self) -> DecisionSchedule:
        """The decision times in each window: every ``every_s`` seconds, from the schedule's default
        first decision (60 s after the start) to its default last (30 s before the end)."""
        return DecisionSchedule(every_s=self.every_s)


#: The experiment's config under its generic name.
Config = DataFeaturesConfig


@dataclass(frozen=True)
class LoadedStore:
    """An open store and where its rows came from.

    Attributes
    ----------
    store : Store
        The open store (close it when done).
    url : str
        Its URL.
    source : str
        ``"data directory <path>"``, ``"simulated <preset> world, ..."`` or ``"existing store"``.
    loaded : dict of str to int
        Rows loaded per table by this run (empty when an existing store was read as it is).
    counts : dict of str to int
        Rows per table after loading.
    """

    store: Store
    url: str
    source: str
    loaded: dict[str, int]
    counts: dict[str, int]


def _store_url(cfg: DataFeaturesConfig, root: Path) -> str:
    db = cfg.runner.db
    if db:
        return db if "://" in db else f"duckdb:///{(root / db).resolve()}"
    path = (root / "data" / "runs" / NOTEBOOK / f"{cfg.runner.run_name}.duckdb").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # each run builds its own store: worlds never mix
    return f"duckdb:///{path}"


def open_store(cfg: DataFeaturesConfig, root: Path | None = None, *, progress: bool = False) -> LoadedStore:
    """Open the run's store and load the data directory or the simulated world into it.

    Parameters
    ----------
    cfg : DataFeaturesConfig
        The notebook's parameters.
    root : Path, optional
        Where relative ``data_dir``/``db`` paths and ``data/runs`` resolve (default: the working
        directory, the repository root under the runner).
    progress : bool
        Show the simulator's progress bar.

    Returns
    -------
    LoadedStore

    Raises
    ------
    ConfigError
        If ``data_dir`` does not exist.
    """
    root = Path.cwd() if root is None else root
    url = _store_url(cfg, root)
    store = connect(url)
    try:
        store.create_tables()
        data_dir = cfg.runner.data_dir
        if data_dir:
            path = Path(data_dir)
            path = path if path.is_absolute() else root / path
            if not path.is_dir():
                raise ConfigError(f"data_dir {data_dir!r}: no such directory ({path})")
            loaded = store.load_data_dir(path)
            source = f"data directory {display_path(path)}"
        elif cfg.runner.db and sum(store.counts().values()) > 0:
            loaded, source = {}, "existing store"
        else:
            spec = cfg.world
            world = simulate(spec.preset, days=spec.days, seed=spec.seed, start=spec.start, progress=progress)
            with tempfile.TemporaryDirectory(prefix="pmr-05-") as tmp:
                world.write(Path(tmp) / "world", books=False)  # the full-depth books stay out of the store
                loaded = store.load_data_dir(Path(tmp) / "world")
                # the snapshots' best levels: what the book features and the quality report read
                loaded.update(store.load_frames([("books", world.top_books, f"books_top_{world.tag}")]))
            source = spec.describe()
        counts = store.counts()
    except BaseException:
        store.close()
        raise
    return LoadedStore(store=store, url=url, source=source, loaded=dict(loaded), counts=dict(counts))


def quality_headline(result: QualityResult) -> dict[str, Any]:
    """A few scalars of a quality assessment: series, worst coverage, anomaly rows, label-flip rate."""
    series = result.series
    flips = result.label_agreement
    flips = flips[(flips["interval_minutes"] == "all") & (flips["comparison"] == "exchange vs oracle")]
    flip_rate = float(flips["flip_rate"].iloc[0]) if len(flips) and int(flips["n"].iloc[0]) > 0 else None
    return {
        "series": len(series),
        "min_coverage": float(series["coverage"].min()) if len(series) else None,
        "anomaly_rows": int(result.anomalies["count"].sum()) if len(result.anomalies) else 0,
        "label_flip_rate": flip_rate,
    }


def feature_matrix(store: Store, cfg: DataFeaturesConfig) -> pd.DataFrame:
    """Decision rows x every registered feature (:func:`~pmresearch.features.matrix.build_feature_matrix`)
    of the windows of ``cfg.interval_minutes`` at the decision times of ``cfg.schedule``."""
    return build_feature_matrix(store, interval_minutes=cfg.interval_minutes or None, schedule=cfg.schedule)


def feature_columns(matrix: pd.DataFrame, min_coverage: float = 0.0) -> list[str]:
    """The feature columns (``<family>__<name>``) non-null on at least ``min_coverage`` of the rows
    (every one non-null somewhere when ``min_coverage`` is 0), in matrix order."""
    cols = [c for c in matrix.columns if "__" in c and c not in DECISION_COLUMNS]
    if not cols or matrix.empty:
        return []
    share = matrix[cols].notna().mean()
    return [c for c in cols if share[c] >= min_coverage and share[c] > 0.0]


def leakage_check(store: Store, matrix: pd.DataFrame, *, n: int, seed: int) -> LeakageAuditResult:
    """:func:`~pmresearch.features.leakage_audit` of ``n`` random decision rows of the matrix against
    the store's inputs (recomputed on data truncated at, and permuted after, each decision time).

    Raises
    ------
    ValueError
        If the matrix has no rows.
    """
    rows = matrix.loc[:, [c for c in DECISION_COLUMNS if c in matrix.columns]]
    if rows.empty:
        raise ValueError("leakage_check: the feature matrix has no rows")
    inputs = FeatureInputs.from_store(store, start=rows["t"].min() - DEFAULT_LOOKBACK, end=rows["t"].max())
    return leakage_audit(rows, inputs, n=n, seed=seed)


def audit_by_family(audit: LeakageAuditResult) -> pd.DataFrame:
    """Per feature family: features audited, passed, failed and exercised (non-NaN on some audited row),
    with an ``all`` row of totals."""
    t = audit.table.assign(exercised=audit.table["non_null"] > 0, failed=~audit.table["passed"])
    out = t.groupby("family", sort=False).agg(features=("feature", "size"), passed=("passed", "sum"),
                                                failed=("failed", "sum"), exercised=("exercised", "sum"),
                                                max_abs_diff=("max_abs_diff", "max"))
    total = out.sum(numeric_only=True).to_frame("all").T
    total["max_abs_diff"] = out["max_abs_diff"].max() if len(out) else 0.0
    return pd.concat([out, total]).astype({"features": int, "passed": int, "failed": int, "exercised": int})


def _series_rows(matrix: pd.DataFrame) -> pd.DataFrame:
    """One row per decision time (the longest window length present), in time order."""
    m = matrix
    if m["interval_minutes"].nunique() > 1:
        m = m[m["interval_minutes"] == m["interval_minutes"].max()]
    return m.sort_values(["t", "slug"], kind="stable").drop_duplicates("t")


def stationarity_subset(matrix: pd.DataFrame, n: int, min_coverage: float, *, min_distinct: int = 20) -> list[str]:
    """Up to ``n`` features with coverage ``>= min_coverage``, taken in turn from each family
    (registration order within a family), so every family is represented.

    Features with fewer than ``min_distinct`` distinct values are skipped: on a grid of decision
    times they are deterministic cycles (time to expiry, a day-of-week code), not series to test,
    and their ADF regressions are rank-deficient.
    """
    rows = _series_rows(matrix)
    cols = feature_columns(rows, min_coverage)
    cols = [c for c in cols if rows[c].nunique(dropna=True) >= min_distinct]
    by_family: dict[str, list[str]] = {}
    for c in cols:
        by_family.setdefault(c.split("__", 1)[0], []).append(c)
    picked: list[str] = []
    depth = 0
    while len(picked) < n and any(depth < len(v) for v in by_family.values()):
        for names in by_family.values():
            if depth < len(names) and len(picked) < n:
                picked.append(names[depth])
        depth += 1
    return picked


def stationarity_check(matrix: pd.DataFrame, names: list[str], *, max_lag: int) -> StationarityResult:
    """ADF + KPSS (:func:`~pmresearch.features.validation.stationarity_table`) of ``names``, read as
    time series over one decision row per decision time."""
    rows = _series_rows(matrix)
    return stationarity_table(rows.set_index("t")[names], max_lag=max_lag)


def selection_check(matrix: pd.DataFrame, cfg: DataFeaturesConfig) -> tuple[SelectionStability, PurgedKFold]:
    """Mutual-information top-``k`` selection refitted on every training fold of a purged k-fold.

    Rows with a label and features with coverage ``>= cfg.min_coverage`` are used; missing values
    are filled by the training fold's median (inside the refitted pipeline). Folds are blocks of
    market windows in time, purged by the label end times (``window_end``) and embargoed by
    ``cfg.embargo_minutes``.

    Raises
    ------
    ValueError
        With fewer than two labelled rows per fold, or no feature of enough coverage.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    rows = matrix[matrix["label"].notna()].reset_index(drop=True)
    names = feature_columns(rows, cfg.min_coverage)
    if len(rows) < 2 * cfg.cv_folds or not names:
        raise ValueError(f"selection_check: {len(rows)} labelled rows and {len(names)} features with coverage >= "
                         f"{cfg.min_coverage:g}: not enough for {cfg.cv_folds} folds")
    cv = PurgedKFold(cfg.cv_folds, t1=rows.set_index("t")["window_end"],
                     embargo=pd.Timedelta(minutes=cfg.embargo_minutes))
    selector = Pipeline([
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ("select", MutualInfoSelector(k=cfg.top_k, random_state=cfg.world.seed)),
    ])
    y = rows["label"].astype("int64").to_numpy()
    stab = selection_stability(selector, rows[names], y, cv=cv, groups=rows["slug"].to_numpy())
    return stab, cv


@dataclass(frozen=True)
class DataFeaturesResult(ExperimentResult):
    """Everything ``notebooks/05_data_features.ipynb`` shows, immutable (the store is closed; mappings
    are read-only views).

    Attributes
    ----------
    url, source : str
        The store's URL and where its rows came from (:class:`LoadedStore`).
    loaded, counts : mapping of str to int
        Rows loaded by this run and rows in the store, per table.
    quality : QualityResult
        The quality assessment of the store.
    matrix : DataFrame
        Decision rows x features (:func:`feature_matrix`).
    audit : LeakageAuditResult
        The leakage audit (:func:`leakage_check`).
    stationarity : StationarityResult
        ADF and KPSS of the subset of :func:`stationarity_subset`.
    stability : SelectionStability
        The selection across the purged folds (:func:`selection_check`).
    cv : PurgedKFold
        The folds.
    """

    config: DataFeaturesConfig
    url: str
    source: str
    loaded: Mapping[str, int]
    counts: Mapping[str, int]
    quality: QualityResult = field(repr=False)
    matrix: pd.DataFrame = field(repr=False)
    audit: LeakageAuditResult = field(repr=False)
    stationarity: StationarityResult = field(repr=False)
    stability: SelectionStability = field(repr=False)
    cv: PurgedKFold = field(repr=False)
    timings: Mapping[str, float] = field(default_factory=dict)

    @functools.cached_property
    def features(self) -> tuple[str, ...]:
        """The feature columns non-null somewhere."""
        return tuple(feature_columns(self.matrix))

    def store_table(self) -> pd.DataFrame:
        """Rows per table after loading, and rows loaded by this run."""
        return pd.DataFrame({"rows": pd.Series(dict(self.counts), dtype="float64"),
                             "loaded by this run": pd.Series(dict(self.loaded), dtype="float64")}
                            ).fillna(0).astype(int)

    def matrix_summary(self) -> pd.DataFrame:
        """Decision rows, windows, features known, labelled rows, share Up and the first and last decision."""
        m, cfg = self.matrix, self.config
        return pd.Series({
            "decision rows": f"{len(m):,}",
            "market windows": f"{m['slug'].nunique():,}",
            "features known somewhere": f"{len(self.features)} of {sum('__' in c for c in m.columns)}",
            f"features known on >= {cfg.min_coverage:.0%} of rows": len(feature_columns(m, cfg.min_coverage)),
            "labelled rows": f"{int(m['label'].notna().sum()):,}",
            "share Up": f"{m['label'].dropna().astype(float).mean():.3f}",
            "first decision": m["t"].min(),
            "last decision": m["t"].max(),
        }, name="value").to_frame()

    def audit_by_family(self) -> pd.DataFrame:
        """The leakage audit per feature family (:func:`audit_by_family`)."""
        return audit_by_family(self.audit)

    def headline(self) -> dict[str, Any]:
        """The figures written to ``reports/05_data_features/<run>.json`` and shown in the index."""
        matrix, stationarity, stability = self.matrix, self.stationarity, self.stability
        labels = matrix["label"].dropna().astype(float)
        counts = stationarity.counts
        freq = stability.frequency[stability.frequency > 0].head(20)
        return {
            "source": self.source,
            "decision_rows": len(matrix),
            "windows": int(matrix["slug"].nunique()),
            "features": len(self.features),
            "share_up": float(labels.mean()) if len(labels) else None,
            **{f"quality_{k}": v for k, v in quality_headline(self.quality).items()},
            "leakage_passed": self.audit.passed,
            "leakage_failing": len(self.audit.failing),
            "leakage_rows": len(self.audit.times),
            "stationary": int(counts.get("stationary", 0)),
            "non_stationary": len(stationarity.non_stationary),
            "stationarity_tested": len(stationarity.table),
            "selection_nogueira": stability.nogueira,
            "selection_jaccard": stability.jaccard,
            "top_feature": str(stability.frequency.index[0]) if len(stability.frequency) else None,
            "rows_by_table": {k: int(v) for k, v in self.counts.items()},
            "stationarity_verdicts": {str(k): int(v) for k, v in counts.items()},
            "selection_frequency": {str(k): float(v) for k, v in freq.items()},
        }

    def summary(self) -> Summary:
        """The matrix summary (:meth:`matrix_summary`), the store's tables and the checks' verdicts."""
        checks = {"leakage audit passed": self.audit.passed, "features failing the audit": len(self.audit.failing),
                  "features tested for stationarity": len(self.stationarity.table),
                  "non-stationary": len(self.stationarity.non_stationary),
                  "selection stability (Nogueira)": self.stability.nogueira}
        return summary_table("Data quality and features", {
            "matrix": self.matrix_summary(), "store": self.store_table(), "checks": checks,
        }, notes=(f"{self.source} -> {display_path(self.url)}",))


#: The experiment's result under its generic name.
Result = DataFeaturesResult


def run(cfg: DataFeaturesConfig, *, root: Path | None = None, progress: bool = True) -> DataFeaturesResult:
    """Load the data, assess its quality, build the feature matrix and check its features.

    Parameters
    ----------
    cfg : DataFeaturesConfig
        The parameters.
    root : Path, optional
        Where relative ``data_dir``/``db`` paths and ``data/runs`` resolve (default: the working
        directory, the repository root under the runner).
    progress : bool
        Show a progress bar over the steps (``TQDM_DISABLE=1`` turns it off whatever this says).

    Returns
    -------
    DataFeaturesResult

    Raises
    ------
    ConfigError
        If ``data_dir`` does not exist.
    ValueError
        If the matrix has no rows, or too few labelled rows for ``cfg.cv_folds`` folds.
    """
    with StepTimer(total=6, desc=NOTEBOOK, enabled=progress) as steps:
        loaded = open_store(cfg, root, progress=progress)
        try:
            steps.lap("load")
            quality = assess_quality_with_labels(loaded.store)
            steps.lap("quality")
            matrix = feature_matrix(loaded.store, cfg)
            steps.lap("matrix")
            audit = leakage_check(loaded.store, matrix, n=cfg.leakage_rows, seed=cfg.world.seed)
            steps.lap("leakage")
        finally:
            loaded.store.close()
        names = stationarity_subset(matrix, cfg.stationarity_features, cfg.min_coverage)
        stationarity = stationarity_check(matrix, names, max_lag=cfg.stationarity_max_lag)
        steps.lap("stationarity")
        stability, cv = selection_check(matrix, cfg)
        steps.lap("selection")
    return DataFeaturesResult(config=cfg, url=loaded.url, source=loaded.source, loaded=loaded.loaded,
                              counts=loaded.counts, quality=quality, matrix=matrix, audit=audit,
                              stationarity=stationarity, stability=stability, cv=cv, timings=steps.timings)
