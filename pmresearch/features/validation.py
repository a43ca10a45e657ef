"""Feature validation: stationarity tests, a declared missing-data policy, and train-fitted winsorizing.

Three tools, each usable on the decision-row feature matrix (``<family>__<name>`` columns):

* :func:`stationarity_table` runs the augmented Dickey-Fuller test (H0: unit root) and the KPSS test
  (H0: stationarity) from ``statsmodels`` on every feature and returns a :class:`StationarityResult`
  with a verdict per feature. Constant, all-NaN and too-short columns get a verdict of their own
  instead of an exception.
* :class:`MissingDataPolicy` declares one :class:`MissingRule` per feature (drop the row, fill with
  a constant, forward-fill up to a limit, add a missing indicator, or keep the NaN) and applies it
  with a per-feature report (:class:`MissingDataResult`). :class:`MissingDataImputer` applies the
  row-preserving rules as a scikit-learn transformer inside a ``Pipeline``.
* :class:`Winsorizer` clips each feature to quantile bounds fitted on the training data only (fit on
  the training fold of a cross-validation split, then the same bounds clip the test fold).

Rows are taken in the order given: sort the matrix by decision time ``t`` first (the stationarity
tests and forward-fill read the rows as a time series).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from statsmodels.tools.sm_exceptions import InterpolationWarning
from statsmodels.tsa.stattools import adfuller, kpss
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from pmresearch._summary import Summary, SummaryMixin
from pmresearch.features._sklearn import AllowNaNMixin, input_names

__all__ = [
    "MissingDataImputer",
    "MissingDataPolicy",
    "MissingDataResult",
    "MissingRule",
    "StationarityResult",
    "Winsorizer",
    "stationarity_table",
]

FloatArray = npt.NDArray[np.float64]
RuleKind = Literal["keep", "drop_row", "constant", "ffill", "indicator"]

_VERDICTS = (
    "stationary",
    "non-stationary",
    "conflicting (difference- or trend-stationary?)",
    "inconclusive (neither test rejects)",
    "constant",
    "all-NaN",
    "too few observations",
    "test failed",
)


# ----------------------------------------------------------------------------------------------------
# Stationarity
# ----------------------------------------------------------------------------------------------------


def _check_time_order(X: pd.DataFrame, where: str) -> None:
    """A DatetimeIndex must be tz-aware and non-decreasing (the rows are read as a time series)."""
    idx = X.index
    if isinstance(idx, pd.DatetimeIndex):
        if idx.tz is None:
            raise ValueError(f"{where}: the DatetimeIndex is tz-naive; decision times must be tz-aware UTC")
        if not idx.is_monotonic_increasing:
            pos = int(np.flatnonzero(np.diff(idx.asi8) < 0)[0]) + 1
            raise ValueError(f"{where}: rows are not in time order (row {pos}, t={idx[pos]}, comes before "
                             f"t={idx[pos - 1]}); sort by t first")


@dataclass(frozen=True)
class StationarityResult(SummaryMixin):
    """ADF and KPSS results per feature, with a verdict.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per feature (index = feature name) with ``n_obs``, ``adf_stat``, ``adf_pvalue``,
        ``adf_lags``, ``kpss_stat``, ``kpss_pvalue``, ``kpss_pvalue_bound`` (``"<="``/``">="`` when the
        KPSS statistic fell outside statsmodels' look-up table, so the true p-value is at most/at least
        the one shown; empty otherwise), ``kpss_lags``, ``verdict`` and ``note``.
    alpha : float
        Significance level used for the verdicts.
    regression : str
        Deterministic terms: ``"c"`` (level) or ``"ct"`` (level and trend), used by both tests.

    Notes
    -----
    Verdicts combine both tests (Kwiatkowski, Phillips, Schmidt & Shin 1992 suggest using them
    together): ADF rejects and KPSS does not -> ``stationary``; ADF does not reject and KPSS rejects
    -> ``non-stationary``; both reject -> ``conflicting``; neither rejects -> ``inconclusive``.
    Columns that cannot be tested get ``constant``, ``all-NaN``, ``too few observations`` or
    ``test failed`` (with the error in ``note``).
    """

    table: pd.DataFrame
    alpha: float
    regression: str

    @cached_property
    def counts(self) -> pd.Series:
        """Number of features per verdict (every verdict listed, zeros included)."""
        return self.table["verdict"].value_counts().reindex(list(_VERDICTS), fill_value=0)

    @cached_property
    def non_stationary(self) -> tuple[str, ...]:
        """Features whose verdict is ``non-stationary`` or ``conflicting``: candidates for differencing."""
        mask = self.table["verdict"].isin([_VERDICTS[1], _VERDICTS[2]])
        return tuple(str(c) for c in self.table.index[mask])

    def summary(self) -> Summary:
        """Tables ``features`` (the per-feature table, statistics and p-values rounded to 4 decimals;
        also ``summary().frame``) and ``verdicts`` (features per verdict, zeros included)."""
        rounded = self.table.round({"adf_stat": 4, "adf_pvalue": 4, "kpss_stat": 4, "kpss_pvalue": 4})
        counts = ", ".join(f"{k}: {int(v)}" for k, v in self.counts.items() if v)
        return Summary(
            f"ADF + KPSS stationarity, alpha={self.alpha:g}, regression='{self.regression}'",
            (("features", rounded), ("verdicts", self.counts.rename("features").to_frame())),
            (f"{len(self.table)} features: {counts}" if counts else "no features tested",
             "stationary: ADF rejects a unit root and KPSS does not reject stationarity; non-stationary: the "
             "reverse; conflicting: both reject; inconclusive: neither"),
        )


def _test_one(x: FloatArray, *, alpha: float, regression: str, autolag: str | None, max_lag: int | None,
              min_obs: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "n_obs": int(x.size), "adf_stat": math.nan, "adf_pvalue": math.nan, "adf_lags": pd.NA,
        "kpss_stat": math.nan, "kpss_pvalue": math.nan, "kpss_pvalue_bound": "", "kpss_lags": pd.NA,
        "verdict": "", "note": "",
    }
    if x.size == 0:
        row["verdict"] = "all-NaN"
        return row
    if np.ptp(x) == 0.0:
        row["verdict"] = "constant"
        row["note"] = f"every value is {x[0]:g}"
        return row
    if x.size < min_obs:
        row["verdict"] = "too few observations"
        row["note"] = f"{x.size} non-NaN values < min_obs={min_obs}"
        return row
    try:
        adf = adfuller(x, maxlag=max_lag, regression=regression, autolag=autolag, result_object=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InterpolationWarning)
            kp = kpss(x, regression=regression, nlags="auto", result_object=True)
    except (ValueError, np.linalg.LinAlgError) as exc:
        row["verdict"] = "test failed"
        row["note"] = f"{type(exc).__name__}: {exc}"
        return row
    for w in caught:
        if issubclass(w.category, InterpolationWarning):
            row["kpss_pvalue_bound"] = "<=" if "smaller" in str(w.message) else ">="
        else:  # pragma: no cover - re-raise anything we did not expect to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    row.update(
        adf_stat=float(adf.statistic), adf_pvalue=float(adf.pvalue), adf_lags=int(adf.lags),
        kpss_stat=float(kp.statistic), kpss_pvalue=float(kp.pvalue), kpss_lags=int(kp.lags),
    )
    adf_rejects = row["adf_pvalue"] < alpha
    kpss_rejects = row["kpss_pvalue"] < alpha
    if adf_rejects and not kpss_rejects:
        row["verdict"] = _VERDICTS[0]
    elif kpss_rejects and not adf_rejects:
        row["verdict"] = _VERDICTS[1]
    elif adf_rejects and kpss_rejects:
        row["verdict"] = _VERDICTS[2]
    else:
        row["verdict"] = _VERDICTS[3]
    return row


def stationarity_table(
    X: pd.DataFrame,
    *,
    alpha: float = 0.05,
    regression: Literal["c", "ct"] = "c",
    autolag: Literal["AIC", "BIC", "t-stat"] | None = "AIC",
    max_lag: int | None = None,
    min_obs: int = 20,
) -> StationarityResult:
    """Run ADF and KPSS on every column of ``X`` and classify each feature.

    Parameters
    ----------
    X : pandas.DataFrame
        Numeric (or boolean) features, rows in time order (a DatetimeIndex must be tz-aware and
        sorted). NaNs are dropped per column before the tests (the remaining values are treated as
        consecutive).
    alpha : float, default 0.05
        Significance level of both tests.
    regression : {"c", "ct"}, default "c"
        Deterministic terms of both tests: constant, or constant and linear trend.
    autolag : {"AIC", "BIC", "t-stat"} or None, default "AIC"
        ADF lag selection (``statsmodels.tsa.stattools.adfuller``). KPSS uses ``nlags="auto"``
        (Hobijn et al. 1998).
    max_lag : int or None, default None
        Largest ADF lag tried; None is statsmodels' ``12 (n/100)^{1/4}`` (Schwert 1989), about 37
        lags at 10,000 rows. A smaller cap makes long series much faster.
    min_obs : int, default 20
        Columns with fewer non-NaN values get the verdict ``too few observations``.

    Returns
    -------
    StationarityResult

    Raises
    ------
    TypeError
        If ``X`` is not a DataFrame or a column is not numeric (the column is named).
    ValueError
        If ``alpha`` is not in (0, 1) or ``regression`` is unknown.
    """
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"stationarity_table expects a pandas DataFrame, got {type(X).__name__}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if regression not in ("c", "ct"):
        raise ValueError(f"regression must be 'c' or 'ct', got {regression!r}")
    if min_obs < 3:
        raise ValueError(f"min_obs must be >= 3, got {min_obs}")
    _check_time_order(X, "stationarity_table")
    rows: dict[str, dict[str, Any]] = {}
    for col in X.columns:
        s = X[col]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise TypeError(f"stationarity_table: column {col!r} has non-numeric dtype {s.dtype}")
        values = pd.to_numeric(s, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        # many small regressions: BLAS threads only add overhead (and contend with other processes)
        with threadpool_limits(limits=1):
            rows[str(col)] = _test_one(values, alpha=alpha, regression=regression, autolag=autolag,
                                       max_lag=max_lag, min_obs=min_obs)
    table = pd.DataFrame.from_dict(rows, orient="index")
    if table.empty:
        table = pd.DataFrame(columns=["n_obs", "adf_stat", "adf_pvalue", "adf_lags", "kpss_stat", "kpss_pvalue",
                                      "kpss_pvalue_bound", "kpss_lags", "verdict", "note"])
    table.index.name = "feature"
    for c in ("adf_lags", "kpss_lags"):
        table[c] = table[c].astype("Int64")
    return StationarityResult(table=table, alpha=alpha, regression=regression)


# ----------------------------------------------------------------------------------------------------
# Missing data
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MissingRule:
    """How one feature's missing values are handled.

    Parameters
    ----------
    kind : {"keep", "drop_row", "constant", "ffill", "indicator"}
        ``keep`` leaves NaN (for models that handle it); ``drop_row`` removes rows where the feature
        is missing (only in :meth:`MissingDataPolicy.apply`, never inside a Pipeline: a transformer
        cannot drop rows of ``y``); ``constant`` fills with ``value``; ``ffill`` carries the last
        observed value forward over at most ``limit`` consecutive missing rows (longer gaps stay NaN
        beyond the limit); ``indicator`` adds a 0/1 column ``<feature>_missing`` and fills with ``value``.
    value : float, default 0.0
        Fill value for ``constant`` and ``indicator``.
    limit : int or None
        Maximum number of consecutive rows filled by ``ffill`` (required for ``ffill``).

    The string forms ``"keep"``, ``"drop_row"``, ``"constant:<value>"``, ``"ffill:<limit>"``,
    ``"indicator"`` and ``"indicator:<value>"`` are accepted everywhere a rule is (see :meth:`parse`).
    """

    kind: RuleKind
    value: float = 0.0
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("keep", "drop_row", "constant", "ffill", "indicator"):
            raise ValueError(f"unknown missing-data rule kind {self.kind!r}")
        if self.kind == "ffill" and (self.limit is None or self.limit < 1):
            raise ValueError(f"ffill needs a limit >= 1 (consecutive rows), got {self.limit!r}")
        if not math.isfinite(self.value):
            raise ValueError(f"fill value must be finite, got {self.value!r}")

    @classmethod
    def parse(cls, spec: MissingRule | str) -> MissingRule:
        """Turn ``"ffill:3"``-style strings (or a rule) into a :class:`MissingRule`."""
        if isinstance(spec, MissingRule):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"a missing-data rule must be a MissingRule or a string, got {type(spec).__name__}")
        kind, _, arg = spec.partition(":")
        kind = kind.strip()
        try:
            if kind in ("keep", "drop_row") and not arg:
                return cls(kind)  # type: ignore[arg-type]
            if kind == "constant" and arg:
                return cls("constant", value=float(arg))
            if kind == "ffill" and arg:
                return cls("ffill", limit=int(arg))
            if kind == "indicator":
                return cls("indicator", value=float(arg) if arg else 0.0)
        except ValueError as exc:
            raise ValueError(f"bad missing-data rule {spec!r}: {exc}") from None
        raise ValueError(
            f"bad missing-data rule {spec!r}: expected 'keep', 'drop_row', 'constant:<value>', "
            "'ffill:<limit>', 'indicator' or 'indicator:<value>'"
        )

    def describe(self) -> str:
        """Short human-readable form, e.g. ``ffill (limit 3)``."""
        if self.kind == "constant":
            return f"fill with {self.value:g}"
        if self.kind == "ffill":
            return f"forward-fill (limit {self.limit})"
        if self.kind == "indicator":
            return f"indicator column + fill with {self.value:g}"
        return {"keep": "keep NaN", "drop_row": "drop row"}[self.kind]


def _resolve_rules(
    columns: list[str], rules: Mapping[str, MissingRule | str] | None, default: MissingRule | str, where: str
) -> dict[str, MissingRule]:
    given = dict(rules or {})
    unknown = sorted(set(given) - set(columns))
    if unknown:
        raise ValueError(f"{where}: missing-data rules name columns not in the data: {unknown}")
    base = MissingRule.parse(default)
    return {c: MissingRule.parse(given[c]) if c in given else base for c in columns}


def _apply_fill(values: pd.Series, rule: MissingRule, groups: npt.NDArray[Any] | None = None) -> pd.Series:
    if rule.kind in ("constant", "indicator"):
        return values.fillna(rule.value)
    if rule.kind == "ffill":
        if groups is not None:
            filled: pd.Series = values.groupby(groups, sort=False).ffill(limit=rule.limit)
            return filled
        return values.ffill(limit=rule.limit)
    return values


@dataclass(frozen=True)
class MissingDataResult(SummaryMixin):
    """The data after a :class:`MissingDataPolicy` was applied, with a per-feature report.

    Attributes
    ----------
    data : pandas.DataFrame
        The processed frame (indicator columns appended after the features, dropped rows removed).
    report : pandas.DataFrame
        Per feature: ``rule``, ``n_missing`` (before), ``n_filled``, ``n_rows_dropped`` (rows this
        feature's ``drop_row`` rule removed; a row missing in several such features counts for each),
        ``n_missing_after`` (NaNs left in the returned data), ``indicator`` (added column or empty).
    n_rows_in : int
        Rows before the policy.
    """

    data: pd.DataFrame
    report: pd.DataFrame
    n_rows_in: int

    @cached_property
    def n_rows_dropped(self) -> int:
        """Rows removed by ``drop_row`` rules."""
        return self.n_rows_in - len(self.data)

    def summary(self) -> Summary:
        """Table ``report`` (the per-feature report; also ``summary().frame``), rows in and dropped as a note."""
        return Summary("Missing-data policy", (("report", self.report),),
                       (f"{self.n_rows_in} rows in, {self.n_rows_dropped} dropped, {len(self.data)} out",))


@dataclass(frozen=True)
class MissingDataPolicy:
    """A declared missing-data rule per feature, applied with a report.

    Parameters
    ----------
    rules : mapping of str to MissingRule or str
        Rule per feature column; columns not named get ``default``.
    default : MissingRule or str, default "keep"
        Rule for every feature not in ``rules``.

    Examples
    --------
    >>> policy = MissingDataPolicy({"micro__spread": "ffill:3", "xasset__eth_ret_1m": "indicator"},
    ...                            default="drop_row")  # doctest: +SKIP
    >>> result = policy.apply(rows[feature_columns])  # doctest: +SKIP
    >>> result.report  # doctest: +SKIP
    """

    rules: Mapping[str, MissingRule | str] = field(default_factory=dict)
    default: MissingRule | str = "keep"

    def __post_init__(self) -> None:
        MissingRule.parse(self.default)
        for v in self.rules.values():
            MissingRule.parse(v)

    def resolve(self, columns: list[str]) -> dict[str, MissingRule]:
        """The rule in force for each of ``columns`` (raises if ``rules`` names an unknown column)."""
        return _resolve_rules(columns, self.rules, self.default, "MissingDataPolicy")

    def table(self, columns: list[str]) -> pd.DataFrame:
        """The declared policy as a table (feature, rule), for documentation and reports."""
        resolved = self.resolve(columns)
        return pd.DataFrame({"rule": [r.describe() for r in resolved.values()]},
                            index=pd.Index(list(resolved), name="feature"))

    def apply(self, X: pd.DataFrame, groups: npt.ArrayLike | pd.Series | None = None) -> MissingDataResult:
        """Apply the rules to ``X`` (rows in time order).

        Parameters
        ----------
        X : pandas.DataFrame
            Features; a DatetimeIndex must be tz-aware and sorted.
        groups : array-like, optional
            One label per row (e.g. the market ``slug``): forward-fill then never carries a value
            from one group into the next.

        Fills run first (forward-fill sees the rows before any are dropped), then rows where a
        ``drop_row`` feature is missing are removed.
        """
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"MissingDataPolicy.apply expects a pandas DataFrame, got {type(X).__name__}")
        _check_time_order(X, "MissingDataPolicy.apply")
        group_key: npt.NDArray[Any] | None = None
        if groups is not None:
            group_arr = np.asarray(groups)
            if group_arr.shape != (len(X),):
                raise ValueError(f"MissingDataPolicy.apply: groups has shape {group_arr.shape}, expected "
                                 f"({len(X)},) (one label per row)")
            group_key = group_arr
        cols = [str(c) for c in X.columns]
        if len(set(cols)) != len(cols):
            raise ValueError("MissingDataPolicy.apply: duplicate column names in the data")
        resolved = self.resolve(cols)
        out = X.copy()
        out.columns = pd.Index(cols)
        report: dict[str, dict[str, Any]] = {}
        drop_mask = np.zeros(len(out), dtype=bool)
        indicators: dict[str, pd.Series] = {}
        for c, rule in resolved.items():
            missing = out[c].isna()
            n_missing = int(missing.sum())
            if rule.kind == "indicator":
                name = f"{c}_missing"
                if name in out.columns:
                    raise ValueError(f"MissingDataPolicy.apply: indicator column {name!r} already exists")
                indicators[name] = missing.astype(np.float64)
            filled = _apply_fill(out[c], rule, group_key)
            n_filled = n_missing - int(filled.isna().sum())
            out[c] = filled
            dropped = 0
            if rule.kind == "drop_row":
                dropped = n_missing
                drop_mask |= missing.to_numpy()
            report[c] = {"rule": rule.describe(), "n_missing": n_missing, "n_filled": n_filled,
                         "n_rows_dropped": dropped, "indicator": f"{c}_missing" if rule.kind == "indicator" else ""}
        for name, ind in indicators.items():
            out[name] = ind
        out = out.loc[~drop_mask]
        rep = pd.DataFrame.from_dict(report, orient="index")
        if rep.empty:
            rep = pd.DataFrame(columns=["rule", "n_missing", "n_filled", "n_rows_dropped", "indicator"])
        rep["n_missing_after"] = [int(out[c].isna().sum()) for c in rep.index]
        rep = rep[["rule", "n_missing", "n_filled", "n_rows_dropped", "n_missing_after", "indicator"]]
        rep.index.name = "feature"
        return MissingDataResult(data=out, report=rep, n_rows_in=len(X))


class MissingDataImputer(AllowNaNMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Row-preserving missing-data rules as a scikit-learn transformer.

    Applies ``constant``, ``ffill``, ``indicator`` and ``keep`` rules (see :class:`MissingRule`);
    ``drop_row`` is refused at fit time because a Pipeline step cannot drop rows of ``y`` (apply
    :class:`MissingDataPolicy` before splitting instead). Nothing is learned from the data except
    the column names; forward-fill inside ``transform`` only looks at earlier rows of the data being
    transformed, so the test fold never sees training values.

    Parameters
    ----------
    rules : mapping of str to MissingRule or str, optional
        Rule per column name (``x0``, ``x1``, ... for arrays without names).
    default : MissingRule or str, default "keep"
        Rule for the columns not in ``rules``.

    Attributes
    ----------
    rules_ : dict of str to MissingRule
        The rule in force for every input column.
    feature_names_in_ : ndarray of str
        Input names (only when fitted on a DataFrame).
    n_features_in_ : int
    """

    def __init__(self, rules: Mapping[str, MissingRule | str] | None = None, default: MissingRule | str = "keep"):
        self.rules = rules
        self.default = default

    def fit(self, X: Any, y: Any = None) -> MissingDataImputer:
        """Resolve the rule of every column; raises on ``drop_row`` or unknown column names."""
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        rules = _resolve_rules(input_names(self, X.shape[1]), self.rules, self.default, "MissingDataImputer")
        bad = [c for c, r in rules.items() if r.kind == "drop_row"]
        if bad:
            raise ValueError(
                f"MissingDataImputer cannot drop rows inside a Pipeline (rule 'drop_row' for {bad}); "
                "apply MissingDataPolicy to the data before splitting instead"
            )
        self.rules_ = rules
        return self

    def transform(self, X: Any) -> FloatArray:
        """Fill the columns, then append one ``<name>_missing`` 0/1 column per ``indicator`` rule."""
        check_is_fitted(self, "rules_")
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        frame = pd.DataFrame(X, columns=list(self.rules_), copy=True)
        extra: list[FloatArray] = []
        for c, rule in self.rules_.items():
            if rule.kind == "indicator":
                extra.append(np.asarray(frame[c].isna(), dtype=np.float64))
            frame[c] = _apply_fill(frame[c], rule)
        out = frame.to_numpy(dtype=np.float64)
        if extra:
            out = np.column_stack([out, *extra])
        return out

    def get_feature_names_out(self, input_features: Any = None) -> npt.NDArray[np.object_]:
        """Input names followed by ``<name>_missing`` for every ``indicator`` rule."""
        check_is_fitted(self, "rules_")
        names = list(self.rules_) if input_features is None else [str(c) for c in input_features]
        if len(names) != len(self.rules_):
            raise ValueError(f"input_features has {len(names)} names, expected {len(self.rules_)}")
        ind = [f"{n}_missing" for n, r in zip(names, self.rules_.values(), strict=True) if r.kind == "indicator"]
        return np.asarray(names + ind, dtype=object)


# ----------------------------------------------------------------------------------------------------
# Winsorizing
# ----------------------------------------------------------------------------------------------------


class Winsorizer(AllowNaNMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Clip each feature to quantile bounds learned on the training data only.

    ``fit`` stores, per column, the ``lower`` and ``upper`` quantiles of the fit data (NaNs ignored);
    ``transform`` clips any data (for instance a test fold) to those stored bounds and leaves NaN as
    NaN. In a ``Pipeline`` evaluated by cross-validation the bounds therefore come from each
    training fold alone.

    Parameters
    ----------
    lower : float, default 0.01
        Lower quantile in [0, 0.5); 0 keeps the training minimum as the bound.
    upper : float, default 0.99
        Upper quantile in (0.5, 1].

    Attributes
    ----------
    lower_bounds_, upper_bounds_ : ndarray of shape (n_features,)
        Fitted bounds (NaN for an all-NaN training column: that column is left unclipped).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when fitted on a DataFrame.
    """

    def __init__(self, lower: float = 0.01, upper: float = 0.99):
        self.lower = lower
        self.upper = upper

    def fit(self, X: Any, y: Any = None) -> Winsorizer:
        """Learn the per-column quantile bounds from ``X``."""
        if not (0.0 <= self.lower < 0.5 < self.upper <= 1.0):
            raise ValueError(f"Winsorizer needs 0 <= lower < 0.5 < upper <= 1, got lower={self.lower}, "
                             f"upper={self.upper}")
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        lo = np.full(X.shape[1], np.nan)
        hi = np.full(X.shape[1], np.nan)
        for j in range(X.shape[1]):
            col = X[:, j]
            col = col[~np.isnan(col)]
            if col.size:
                lo[j], hi[j] = np.quantile(col, [self.lower, self.upper])
        self.lower_bounds_ = lo
        self.upper_bounds_ = hi
        return self

    @property
    def bounds_(self) -> pd.DataFrame:
        """Fitted bounds as a table (index = feature name)."""
        check_is_fitted(self, "lower_bounds_")
        return pd.DataFrame({"lower": self.lower_bounds_, "upper": self.upper_bounds_},
                            index=pd.Index(self.get_feature_names_out(), name="feature"))

    def transform(self, X: Any) -> FloatArray:
        """Clip ``X`` to the fitted bounds (NaN stays NaN; all-NaN training columns pass through)."""
        check_is_fitted(self, "lower_bounds_")
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False, copy=True)
        lo = np.where(np.isnan(self.lower_bounds_), -np.inf, self.lower_bounds_)
        hi = np.where(np.isnan(self.upper_bounds_), np.inf, self.upper_bounds_)
        out: FloatArray = np.clip(X, lo, hi)
        return out
