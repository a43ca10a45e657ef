"""Small scikit-learn building blocks shared by the selection and validation transformers.

The mixins set one estimator tag each (scikit-learn >= 1.6 tags API). Put them first among an
estimator's bases, left of scikit-learn's own mixins and ``BaseEstimator``, as scikit-learn does
with its mixins: ``class Winsorizer(AllowNaNMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator)``.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

__all__ = ["AllowNaNMixin", "TargetRequiredMixin", "input_names"]


class AllowNaNMixin(BaseEstimator):  # type: ignore[misc]
    """The estimator accepts NaN in ``X`` (tag ``input_tags.allow_nan``)."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class TargetRequiredMixin(BaseEstimator):  # type: ignore[misc]
    """``fit`` needs ``y`` (tag ``target_tags.required``)."""

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def input_names(estimator: Any, n_features: int) -> list[str]:
    """The fitted estimator's input column names as str, or ``x0, x1, ...`` when it was fitted
    on an array without names (scikit-learn's default feature names)."""
    names = getattr(estimator, "feature_names_in_", None)
    return [str(c) for c in names] if names is not None else [f"x{i}" for i in range(n_features)]
