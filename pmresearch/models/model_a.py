"""Model A: the theoretical digital-option probability as a scikit-learn classifier.

``ModelA`` turns the contract state ``(S_t, K, tau, vol forecast)`` and a jump law
(:class:`pmresearch.pricing.JumpLaw`) into
``P(up) = P(S_T >= K)`` with :func:`pmresearch.pricing.digital_bs` or
:func:`pmresearch.pricing.digital_merton`. It has the classifier contract (``fit``/``predict_proba``/
``predict``/``get_params``, ``classes_ = [0, 1]``, no work in ``__init__``), so it is calibrated
(``CalibratedClassifierCV``), cross-validated, scored and backtested exactly like Model B.
``fit`` learns nothing by default (the model is theory); it validates the inputs and records the
feature layout. Variants (:func:`model_a_variant`): ``bs_hv`` (Black-Scholes with a trailing
realized vol), ``bs_garch`` (Black-Scholes with a GARCH forecast) and ``merton_garch`` (Merton
jump-diffusion with a GARCH forecast of total variance, from which the jump variance is removed).

Inputs. A DataFrame (e.g. the decision rows of ``pmresearch features``) is read by column name
(``spot_column``, ``strike_column``, ``tau_column`` in seconds, ``vol_column`` annualized on the
24/7 year); other columns are ignored. A plain array must have exactly those four columns in
that order.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from pmresearch._time import SECONDS_PER_YEAR
from pmresearch._typing import FloatArray, IntArray
from pmresearch.pricing import JumpLaw, MertonFit, digital_bs, digital_merton

__all__ = ["MODEL_A_VARIANTS", "ModelA", "model_a_variant"]

#: Names accepted by :func:`model_a_variant`.
MODEL_A_VARIANTS: tuple[str, ...] = ("bs_hv", "bs_garch", "merton_garch")


class ModelA(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Digital-option probability of Up as a binary classifier (labels 0 = Down, 1 = Up).

    Parameters
    ----------
    pricer : {"bs", "merton"}
        Black-Scholes ``N(d2)`` or the Merton (1976) Poisson mixture.
    vol_column, spot_column, strike_column, tau_column : str
        Column names read from a DataFrame ``X``; ``tau_column`` is in seconds, the vol annualized.
    jumps : JumpLaw, optional
        The jump law for ``pricer="merton"`` (``lam`` per year of 365 days, log-jumps
        ``N(mu_j, sigma_j^2)``); ``None`` (default) is :meth:`JumpLaw.none` (no jumps).
    vol_is_total : bool
        With ``pricer="merton"``, treat the vol input as *total* volatility (a GARCH or realized
        forecast includes jumps) and price with the diffusion part
        ``sigma_d^2 = max(sigma^2 - lam (mu_j^2 + sigma_j^2), (0.05 sigma)^2)``.
    lam, mu_j, sigma_j : float, optional
        Deprecated: the jump law's fields one by one. Given, ``fit`` and ``prob_up`` emit a
        ``DeprecationWarning`` and price with ``JumpLaw(lam, mu_j, sigma_j)`` (missing fields 0); they
        cannot be combined with ``jumps``. Pass ``jumps=JumpLaw(lam, mu_j, sigma_j)`` instead.
    vol_mult : float
        Multiplier applied to the vol input (1 = as given).
    r : float
        Risk-neutral drift rate (annualized); 0 for 15-minute crypto windows.
    clip : float
        Probabilities are clipped to ``[clip, 1 - clip]`` so log-loss stays finite.

    Attributes
    ----------
    classes_ : ndarray
        ``[0, 1]``.
    n_features_in_ : int
    feature_names_in_ : ndarray
        Present when fitted on a DataFrame.
    """

    def __init__(
        self,
        pricer: Literal["bs", "merton"] = "bs",
        vol_column: str = "sigma",
        *,
        spot_column: str = "spot",
        strike_column: str = "strike",
        tau_column: str = "tau_s",
        jumps: JumpLaw | None = None,
        vol_is_total: bool = True,
        vol_mult: float = 1.0,
        r: float = 0.0,
        clip: float = 1e-6,
        lam: float | None = None,
        mu_j: float | None = None,
        sigma_j: float | None = None,
    ) -> None:
        self.pricer = pricer
        self.vol_column = vol_column
        self.spot_column = spot_column
        self.strike_column = strike_column
        self.tau_column = tau_column
        self.jumps = jumps
        self.vol_is_total = vol_is_total
        self.vol_mult = vol_mult
        self.r = r
        self.clip = clip
        self.lam = lam
        self.mu_j = mu_j
        self.sigma_j = sigma_j

    # ---- helpers ---------------------------------------------------------------------------------

    def _check_params(self) -> JumpLaw:
        """Validate the parameters; return the jump law (warning when it came from the deprecated keywords)."""
        if self.pricer not in ("bs", "merton"):
            raise ValueError(f"ModelA: pricer must be 'bs' or 'merton', got {self.pricer!r}")
        law = _jump_law("ModelA", self.jumps, self.lam, self.mu_j, self.sigma_j, warn_stacklevel=4)  # caller of fit
        if not self.vol_mult > 0:
            raise ValueError(f"ModelA: vol_mult must be > 0, got {self.vol_mult}")
        if not 0 <= self.clip < 0.5:
            raise ValueError(f"ModelA: clip must be in [0, 0.5), got {self.clip}")
        return law

    @property
    def jump_law(self) -> JumpLaw:
        """The jump law priced with: ``jumps``, :meth:`JumpLaw.none` when it is ``None``, or the law of the
        deprecated ``lam``/``mu_j``/``sigma_j``."""
        return _jump_law("ModelA", self.jumps, self.lam, self.mu_j, self.sigma_j, warn_stacklevel=None)

    @property
    def _columns(self) -> list[str]:
        return [self.spot_column, self.strike_column, self.tau_column, self.vol_column]

    def _inputs(self, X: Any, *, reset: bool) -> FloatArray:
        """The (n, 4) float matrix [spot, strike, tau_s, vol] from a DataFrame or an array."""
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self._columns if c not in X.columns]
            if missing:
                raise ValueError(f"ModelA: X is missing column(s) {missing}; it has {list(X.columns)}")
            X = X.loc[:, self._columns]
            vals = X.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~np.isfinite(vals)
            if bad.any():
                i, j = (int(v[0]) for v in np.nonzero(bad))
                raise ValueError(f"ModelA: column {self._columns[j]!r} has a missing or non-finite value at row "
                                 f"{X.index[i]!r} (position {i}); drop rows without a vol forecast first")
        arr = validate_data(self, X, reset=reset, dtype=np.float64, ensure_all_finite=True)
        m = np.asarray(arr, dtype=np.float64)
        if m.shape[1] != 4:
            raise ValueError(f"ModelA: X has n_features = {m.shape[1]}, but ModelA needs 4 columns "
                             f"{self._columns} (spot, strike, tau in seconds, annualized vol)")
        neg = np.flatnonzero(np.any(m < 0, axis=1))
        if neg.size:
            j = int(np.flatnonzero(m[neg[0]] < 0)[0])
            raise ValueError(f"Negative values in data passed to ModelA: column {self._columns[j]!r}, "
                             f"row {int(neg[0])} is {m[neg[0], j]!r}")
        zero = np.flatnonzero(np.any(m[:, :2] == 0, axis=1))
        if zero.size:
            j = int(np.flatnonzero(m[zero[0], :2] == 0)[0])
            raise ValueError(f"ModelA: column {self._columns[j]!r} must be > 0; row {int(zero[0])} is 0")
        return m

    # ---- estimator API -------------------------------------------------------------------------

    def fit(self, X: Any, y: npt.ArrayLike | None = None, sample_weight: npt.ArrayLike | None = None) -> ModelA:
        """Validate inputs and record the feature layout (Model A has no fitted parameters).

        Parameters
        ----------
        X : DataFrame or array of shape (n, 4)
        y : array_like of {0, 1}, optional
            Outcomes (1 = Up); only validated.
        sample_weight : ignored
            Accepted for API compatibility with calibration and cross-validation tools.

        Returns
        -------
        ModelA
            ``self``.
        """
        self._check_params()
        if y is not None:
            yy = np.asarray(y)
            check_classification_targets(yy)
            labels = set(pd.unique(pd.Series(yy.ravel())).tolist())
            if not labels <= {0, 1}:
                raise ValueError("Only binary classification is supported. ModelA predicts outcomes 0 (Down) / "
                                 f"1 (Up); got labels {sorted(map(str, labels))}")
        m = self._inputs(X, reset=True)
        if y is not None and (yy.ndim != 1 or yy.shape[0] != m.shape[0]):
            raise ValueError(f"ModelA: y must be 1-d with {m.shape[0]} entries, got shape {yy.shape}")
        self.classes_: IntArray = np.array([0, 1], dtype=np.int64)
        return self

    def prob_up(self, X: Any) -> FloatArray:
        """``P(S_T >= K)`` per row (clipped to ``[clip, 1 - clip]``)."""
        check_is_fitted(self, "classes_")
        law = self._check_params()
        m = self._inputs(X, reset=False)
        spot, strike, tau = m[:, 0], m[:, 1], m[:, 2] / SECONDS_PER_YEAR
        sigma = m[:, 3] * self.vol_mult
        if self.pricer == "bs":
            p = digital_bs(spot, strike, tau, sigma, self.r)
        else:
            if self.vol_is_total:
                sigma = np.sqrt(np.maximum(sigma**2 - law.annual_variance, (0.05 * sigma) ** 2))
            p = digital_merton(spot, strike, tau, sigma, law.lam, law.mu_j, law.sigma_j, self.r)
        return np.asarray(np.clip(p, self.clip, 1.0 - self.clip), dtype=np.float64)

    def predict_proba(self, X: Any) -> FloatArray:
        """Probabilities of ``classes_`` = [Down, Up], shape (n, 2)."""
        p = self.prob_up(X)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> IntArray:
        """1 (Up) where ``P(up) >= 0.5`` (ties Up, like settlement), else 0."""
        return np.asarray((self.prob_up(X) >= 0.5).astype(np.int64), dtype=np.int64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.target_tags.required = False
        tags.classifier_tags.multi_class = False
        tags.non_deterministic = False
        return tags


def _jump_law(owner: str, jumps: Any, lam: float | None, mu_j: float | None, sigma_j: float | None, *,
              warn_stacklevel: int | None) -> JumpLaw:
    """The :class:`JumpLaw` of ``jumps`` or of the deprecated one-by-one keywords (missing fields 0), with a
    ``DeprecationWarning`` pointing ``warn_stacklevel`` frames up when those keywords are used (None: silent)."""
    legacy = {k: v for k, v in (("lam", lam), ("mu_j", mu_j), ("sigma_j", sigma_j)) if v is not None}
    if legacy:
        if jumps is not None:
            raise TypeError(f"{owner}: give the jump law once: jumps=JumpLaw(...) or the deprecated "
                            f"{sorted(legacy)}, not both")
        if warn_stacklevel is not None:
            warnings.warn(f"{owner}: lam=, mu_j=, sigma_j= are deprecated; pass jumps=JumpLaw(lam, mu_j, sigma_j)",
                          DeprecationWarning, stacklevel=warn_stacklevel)
        return JumpLaw(**legacy)
    if jumps is None:
        return JumpLaw.none()
    if not isinstance(jumps, JumpLaw):
        raise TypeError(f"{owner}: jumps must be a JumpLaw or None, got {type(jumps).__name__} "
                        "(JumpLaw.from_fit(fit) turns a fit_merton result into one)")
    return jumps


def model_a_variant(
    name: str,
    *,
    hv_column: str = "vol__rv_1m_60m",
    garch_column: str = "vol__garch_15m",
    jumps: JumpLaw | MertonFit | None = None,
    lam: float | None = None,
    mu_j: float | None = None,
    sigma_j: float | None = None,
) -> ModelA:
    """One of the named Model A variants.

    Parameters
    ----------
    name : {"bs_hv", "bs_garch", "merton_garch"}
    hv_column, garch_column : str
        Columns of the decision rows holding the trailing realized vol and the GARCH forecast
        (annualized; e.g. from :meth:`pmresearch.models.vol_forecast.VolForecasts.asof`).
    jumps : JumpLaw or MertonFit, optional
        The jump law of ``merton_garch`` (a :func:`pmresearch.pricing.jumps.fit_merton` result gives its
        fitted law, :meth:`JumpLaw.from_fit`); default no jumps.
    lam, mu_j, sigma_j : float, optional
        Deprecated (a ``DeprecationWarning``): the jump law's fields one by one; not combined with ``jumps``.
    """
    law = _jump_law("model_a_variant", JumpLaw.from_fit(jumps) if isinstance(jumps, MertonFit) else jumps,
                    lam, mu_j, sigma_j, warn_stacklevel=3)
    if name == "bs_hv":
        return ModelA("bs", hv_column)
    if name == "bs_garch":
        return ModelA("bs", garch_column)
    if name == "merton_garch":
        return ModelA("merton", garch_column, jumps=None if law == JumpLaw.none() else law)
    raise ValueError(f"unknown Model A variant {name!r}; choose one of {list(MODEL_A_VARIANTS)}")
