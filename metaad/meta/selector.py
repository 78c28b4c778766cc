"""The selector: from a dataset's meta-features, the predicted performance of every configuration in the zoo.

It is trained on a knowledge base: a datasets x configurations matrix of test AUROC, and a datasets x
meta-features matrix. Every model predicts the *deviation* of a configuration's AUROC from the dataset's mean
AUROC (a dataset's level says nothing about which configuration to choose); a separate nearest-neighbour
estimate of the level turns deviations back into a predicted AUROC for display.

Models (``model=``):

``"global"``
    The mean deviation of each configuration over the training datasets: one ranking for every dataset.
``"knn"``
    The distance-weighted mean deviation over the ``n_neighbors`` nearest training datasets, in standardized
    meta-feature space.
``"mf"``
    MetaOD-style (Zhao et al., NeurIPS 2021): factorize the deviation matrix as ``U V^T`` (alternating least
    squares, missing entries skipped), learn a random forest from meta-features to the dataset factors ``U``,
    predict ``f(x) V^T``.
``"lgbm"``
    A direct regressor: LightGBM on (meta-features, configuration features: family one-hot, numeric and
    categorical parameters, and the configuration's mean deviation on the training datasets).

Every model's prediction is shrunk towards the global one: ``shrinkage * model + (1 - shrinkage) * global``,
which bounds how far a poor neighbourhood can pull the choice away from the configurations that are good
everywhere.

Examples
--------
>>> data = synthetic_selection_data(n_datasets=30, random_state=0)
>>> selector = Selector(model="knn").fit(data)
>>> ranking = selector.rank(data.features.iloc[0].to_dict())
>>> list(ranking.columns[:3])
['config_id', 'family', 'params_json']
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from metaad.exceptions import DataError, ParameterError

MODELS: tuple[str, ...] = ("global", "knn", "mf", "lgbm")


@dataclass
class SelectionData:
    """What a selector learns from: performance and meta-features of the same datasets, and the configurations.

    Attributes
    ----------
    performance : pandas.DataFrame
        Datasets x config_id, test AUROC (mean over seeds); NaN where a trial failed or did not run.
    features : pandas.DataFrame
        Datasets x meta-feature, same index as ``performance``.
    configurations : pandas.DataFrame
        Indexed by config_id (the columns of ``performance``), columns ``family`` and ``params_json``.
    average_precision : pandas.DataFrame, optional
        Datasets x config_id, test average precision.
    """

    performance: pd.DataFrame
    features: pd.DataFrame
    configurations: pd.DataFrame
    average_precision: pd.DataFrame | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        common = self.performance.index.intersection(self.features.index)
        if len(common) == 0:
            raise DataError("no dataset has both performance results and meta-features")
        self.performance = self.performance.loc[common]
        self.features = self.features.loc[common].astype(np.float64).fillna(0.0)
        missing = [c for c in self.performance.columns if c not in self.configurations.index]
        if missing:
            raise DataError(f"{len(missing)} configuration(s) have results but no description, e.g. {missing[0]!r}")
        self.configurations = self.configurations.loc[list(self.performance.columns)]
        if self.average_precision is not None:
            self.average_precision = self.average_precision.reindex(index=common, columns=self.performance.columns)

    @property
    def datasets(self) -> list[str]:
        """The dataset names, in order."""
        return list(self.performance.index)

    def drop(self, datasets: list[str] | str) -> SelectionData:
        """The same data without ``datasets`` (for leave-one-dataset-out)."""
        names = [datasets] if isinstance(datasets, str) else list(datasets)
        keep = [d for d in self.datasets if d not in set(names)]
        ap = None if self.average_precision is None else self.average_precision.loc[keep]
        return SelectionData(self.performance.loc[keep], self.features.loc[keep], self.configurations, ap, dict(self.meta))


def configuration_features(configurations: pd.DataFrame) -> pd.DataFrame:
    """Numbers describing each configuration: family one-hot, numeric parameters, categorical one-hot.

    Examples
    --------
    >>> table = pd.DataFrame({"family": ["knn", "iforest"], "params_json": ['{"n_neighbors":5}', '{}']},
    ...                      index=["knn-1", "iforest-1"])
    >>> configuration_features(table).loc["knn-1", ["family=knn", "p.n_neighbors"]].tolist()
    [1.0, 5.0]
    """
    rows: list[dict[str, float]] = []
    for cfg_id, row in configurations.iterrows():
        values: dict[str, float] = {f"family={row['family']}": 1.0}
        for name, value in json.loads(row["params_json"]).items():
            if isinstance(value, bool) or value is None or isinstance(value, str):
                values[f"p.{name}={value}"] = 1.0
            elif isinstance(value, (int, float)):
                values[f"p.{name}"] = float(value)
            elif isinstance(value, list):
                values[f"p.{name}.len"] = float(len(value))
                numbers = [v for v in value if isinstance(v, (int, float))]
                values[f"p.{name}.first"] = float(numbers[0]) if numbers else 0.0
        rows.append(values)
    frame = pd.DataFrame(rows, index=configurations.index)
    onehot = [c for c in frame.columns if "=" in c]
    frame[onehot] = frame[onehot].fillna(0.0)
    return frame.astype(np.float64)


# ----------------------------------------------------------------------------------------------- the models
def _nanmean_columns(D: np.ndarray) -> np.ndarray:
    counts = np.isfinite(D).sum(axis=0)
    sums = np.nansum(D, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _weighted_nanmean(D: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rows of ``weights`` (m x n) average the rows of ``D`` (n x c), skipping NaN entries."""
    mask = np.isfinite(D)
    filled = np.where(mask, D, 0.0)
    totals = weights @ mask.astype(np.float64)
    return np.where(totals > 0, (weights @ filled) / np.maximum(totals, 1e-12), np.nan)


class Selector:
    """Predict the AUROC of every configuration of a knowledge base for a new dataset.

    Parameters
    ----------
    model : {"global", "knn", "mf", "lgbm"}, default "knn"
        See the module docstring.
    n_neighbors : int, default 5
        Nearest datasets for ``knn``, for the level estimate and for explanations.
    shrinkage : float, default 1.0
        Weight of the model against the global ranking, in [0, 1].
    n_factors : int, default 5
        Latent dimensions of ``mf``.
    denoise_rank : int, optional
        For ``knn``: average a rank-``denoise_rank`` approximation of the training deviations (truncated SVD)
        instead of the raw ones, so that one lucky result on one dataset does not decide the choice.
    family_best : int, default 0
        When positive, only the best ``family_best`` configurations of each family (by mean deviation over
        the training datasets) may be ranked first: the choice becomes one of detector family, among few,
        distinct, individually robust options, which a few dozen noisy results can make more reliably.
    candidate_share : float, default 1.0
        Only this share of the configurations, the best by mean deviation over the training datasets, may be
        ranked first; the others are ranked after them. Below 1 it trades a little upside for robustness.
    random_state : int, default 0
        Seed of the random forest (``mf``) and LightGBM (``lgbm``).

    Examples
    --------
    >>> data = synthetic_selection_data(n_datasets=30, random_state=0)
    >>> selector = Selector(model="global").fit(data)
    >>> int(selector.rank(data.features.iloc[0].to_dict())["rank"].iloc[0])
    1
    """

    def __init__(self, *, model: str = "knn", n_neighbors: int = 5, shrinkage: float = 1.0, n_factors: int = 5,
                 denoise_rank: int | None = None, family_best: int = 0, candidate_share: float = 1.0,
                 random_state: int = 0) -> None:
        self.model = model
        self.family_best = family_best
        self.denoise_rank = denoise_rank
        self.candidate_share = candidate_share
        self.n_neighbors = n_neighbors
        self.shrinkage = shrinkage
        self.n_factors = n_factors
        self.random_state = random_state

    # --------------------------------------------------------------------------------------- fit
    def fit(self, data: SelectionData) -> Selector:
        """Learn from ``data``; returns ``self``."""
        if self.model not in MODELS:
            raise ParameterError(f"Selector: unknown model {self.model!r}; expected one of {', '.join(MODELS)}")
        if not 0.0 <= float(self.shrinkage) <= 1.0:
            raise ParameterError(f"Selector: shrinkage must be in [0, 1], got {self.shrinkage!r}")
        if not 0.0 < float(self.candidate_share) <= 1.0:
            raise ParameterError(f"Selector: candidate_share must be in (0, 1], got {self.candidate_share!r}")
        if len(data.datasets) < 2:
            raise DataError(f"a selector needs results on at least 2 datasets, the knowledge has {len(data.datasets)}")
        P = data.performance.to_numpy(dtype=np.float64)
        self.level_ = np.nanmean(P, axis=1)
        # a configuration that failed on a dataset counts as an average one there (as a fallback would)
        D = np.nan_to_num(P - self.level_[:, None], nan=0.0)
        self.deviation_ = D
        self.datasets_ = data.datasets
        self.config_ids_ = list(data.performance.columns)
        self.configurations_ = data.configurations.copy()
        self.performance_ = data.performance.copy()
        self.average_precision_ = None if data.average_precision is None else data.average_precision.copy()
        self.feature_names_ = list(data.features.columns)
        F = data.features.to_numpy(dtype=np.float64)
        self.feature_mean_ = F.mean(axis=0)
        scale = F.std(axis=0)
        self.feature_scale_ = np.where(scale > 1e-12, scale, 1.0)
        self.features_ = self._standardize(F)
        self.global_ = np.nan_to_num(_nanmean_columns(D), nan=-1.0)
        n_keep = max(1, round(float(self.candidate_share) * len(self.global_)))
        self.eligible_ = np.zeros(len(self.global_), dtype=bool)
        self.eligible_[np.argsort(-self.global_, kind="stable")[:n_keep]] = True
        if self.family_best:
            families = data.configurations["family"].to_numpy()
            best = np.zeros_like(self.eligible_)
            for family in np.unique(families):
                members = np.flatnonzero(families == family)
                best[members[np.argsort(-self.global_[members], kind="stable")[: int(self.family_best)]]] = True
            self.eligible_ &= best
        self.smoothed_ = D
        if self.model == "knn" and self.denoise_rank:
            centered = D - self.global_[None, :]
            u, sv, vt = np.linalg.svd(centered, full_matrices=False)
            r = min(int(self.denoise_rank), len(sv))
            self.smoothed_ = self.global_[None, :] + (u[:, :r] * sv[:r]) @ vt[:r]
        if self.model == "mf":
            self._fit_mf(D)
        elif self.model == "lgbm":
            self._fit_lgbm(D, data.configurations)
        return self

    def _standardize(self, F: np.ndarray) -> np.ndarray:
        return np.clip((F - self.feature_mean_) / self.feature_scale_, -5.0, 5.0)

    def _fit_mf(self, D: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestRegressor

        rng = check_random_state(self.random_state)
        mask = np.isfinite(D)
        target = np.where(mask, D - self.global_[None, :], 0.0)
        n, c = D.shape
        rank = max(1, min(self.n_factors, n - 1, c))
        U = rng.normal(scale=0.1, size=(n, rank))
        V = rng.normal(scale=0.1, size=(c, rank))
        regularization = 0.1 * np.eye(rank)
        for _ in range(30):
            for i in range(n):
                Vi = V[mask[i]]
                U[i] = np.linalg.solve(Vi.T @ Vi + regularization, Vi.T @ target[i, mask[i]])
            for j in range(c):
                Uj = U[mask[:, j]]
                V[j] = np.linalg.solve(Uj.T @ Uj + regularization, Uj.T @ target[mask[:, j], j])
        self.factors_ = V
        self.factor_model_ = RandomForestRegressor(
            n_estimators=100, min_samples_leaf=2, max_features=0.5, random_state=rng.randint(2**31 - 1), n_jobs=1
        ).fit(self.features_, U)

    def _fit_lgbm(self, D: np.ndarray, configurations: pd.DataFrame) -> None:
        import lightgbm

        cfg = configuration_features(configurations)
        cfg["global_deviation"] = self.global_
        self.config_features_ = cfg.to_numpy(dtype=np.float64)
        rows_i, rows_j = np.nonzero(np.isfinite(D))
        X = np.hstack([self.features_[rows_i], self.config_features_[rows_j]])
        self.booster_ = lightgbm.LGBMRegressor(
            n_estimators=300, learning_rate=0.05, num_leaves=15, min_child_samples=20, subsample=0.8,
            subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, random_state=int(self.random_state),
            n_jobs=1, verbose=-1, deterministic=True,
        ).fit(X, D[rows_i, rows_j])

    # --------------------------------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "global_"):
            from metaad.exceptions import NotFittedError

            raise NotFittedError("this Selector is not fitted yet; call fit(data) first")

    def _feature_matrix(self, features: Any) -> np.ndarray:
        """Rows of standardized meta-features in the training order; unknown names ignored, missing ones = mean."""
        frame = pd.DataFrame([features]) if isinstance(features, dict) else pd.DataFrame(features)
        frame = frame.reindex(columns=self.feature_names_)
        values = frame.to_numpy(dtype=np.float64)
        values = np.where(np.isfinite(values), values, self.feature_mean_[None, :])
        return self._standardize(values)

    def neighbours(self, features: Any, k: int | None = None) -> pd.DataFrame:
        """The ``k`` training datasets nearest to ``features``: columns ``dataset`` and ``distance``.

        The distance is the root-mean-square difference of the standardized meta-features.
        """
        self._check_fitted()
        z = self._feature_matrix(features)[0]
        distance = np.sqrt(((self.features_ - z) ** 2).mean(axis=1))
        order = np.argsort(distance, kind="stable")[: k or self.n_neighbors]
        return pd.DataFrame({"dataset": [self.datasets_[i] for i in order], "distance": distance[order]})

    def _knn_weights(self, Z: np.ndarray) -> np.ndarray:
        distance = np.sqrt(((Z[:, None, :] - self.features_[None, :, :]) ** 2).mean(axis=2))
        k = min(self.n_neighbors, len(self.datasets_))
        weights = np.zeros_like(distance)
        for r in range(distance.shape[0]):
            nearest = np.argsort(distance[r], kind="stable")[:k]
            weights[r, nearest] = 1.0 / (distance[r, nearest] + 0.05)
        return weights

    def predict_deviation(self, features: Any) -> np.ndarray:
        """Predicted AUROC deviation from the dataset mean, shape (n_rows, n_configurations)."""
        self._check_fitted()
        Z = self._feature_matrix(features)
        base = np.repeat(self.global_[None, :], Z.shape[0], axis=0)
        if self.model == "global":
            return base
        if self.model == "knn":
            model = _weighted_nanmean(self.smoothed_, self._knn_weights(Z))
            model = np.where(np.isfinite(model), model, base)
        elif self.model == "mf":
            U = self.factor_model_.predict(Z).reshape(Z.shape[0], -1)
            model = base + U @ self.factors_.T
        else:
            n_cfg = len(self.config_ids_)
            model = np.empty((Z.shape[0], n_cfg))
            for r in range(Z.shape[0]):
                X = np.hstack([np.repeat(Z[r:r + 1], n_cfg, axis=0), self.config_features_])
                model[r] = self.booster_.predict(X)
        s = float(self.shrinkage)
        return s * model + (1.0 - s) * base

    def predict_level(self, features: Any) -> np.ndarray:
        """Predicted mean AUROC over the configurations (nearest-neighbour estimate), one per row."""
        self._check_fitted()
        weights = self._knn_weights(self._feature_matrix(features))
        return (weights @ self.level_) / weights.sum(axis=1)

    def rank(self, features: dict[str, float] | pd.Series) -> pd.DataFrame:
        """Every configuration ranked for one dataset, best first.

        Returns
        -------
        pandas.DataFrame
            Columns ``config_id``, ``family``, ``params_json``, ``predicted_auroc``, ``score`` (what the
            ranking sorts by: the predicted deviation from the dataset mean) and ``rank`` (1 = best).
        """
        row = dict(features)
        score = self.predict_deviation(row)[0]
        level = self.predict_level(row)[0]
        frame = pd.DataFrame({
            "config_id": self.config_ids_,
            "family": self.configurations_["family"].to_numpy(),
            "params_json": self.configurations_["params_json"].to_numpy(),
            "predicted_auroc": np.clip(level + score, 0.0, 1.0),
            "score": score,
        })
        frame["eligible"] = self.eligible_
        frame = frame.sort_values(["eligible", "score", "config_id"], ascending=[False, False, True], kind="stable")
        frame = frame.drop(columns="eligible").reset_index(drop=True)
        frame["rank"] = np.arange(1, len(frame) + 1)
        return frame


# ----------------------------------------------------------------------------------------------- test data
def synthetic_selection_data(n_datasets: int = 40, n_configs_per_family: int = 6, *, noise: float = 0.02,
                             random_state: int = 0) -> SelectionData:
    """A knowledge base with planted structure: which family wins depends on two of the meta-features.

    Datasets with ``f0 > 0`` favour ``knn`` configurations, the others ``iforest``; ``f1`` says whether
    ``lof`` is good; the other features are noise. For tests and examples.

    Examples
    --------
    >>> data = synthetic_selection_data(n_datasets=10)
    >>> data.performance.shape[0], data.features.shape[1]
    (10, 6)
    """
    rng = check_random_state(random_state)
    families = ("iforest", "knn", "lof", "ecod")
    configs = []
    for family in families:
        for k in range(n_configs_per_family):
            configs.append((f"{family}-{k:08d}", family, json.dumps({"size": k + 1}, separators=(",", ":"))))
    table = pd.DataFrame(configs, columns=["config_id", "family", "params_json"]).set_index("config_id")
    F = rng.normal(size=(n_datasets, 6))
    names = [f"d{i:02d}" for i in range(n_datasets)]
    perf = np.empty((n_datasets, len(configs)))
    for j, (_, family, params) in enumerate(configs):
        size = json.loads(params)["size"]
        effect = {
            "iforest": 0.08 * (F[:, 0] < 0) + 0.02,
            "knn": 0.12 * (F[:, 0] > 0) - 0.01 * size,
            "lof": 0.1 * (F[:, 1] > 0.5),
            "ecod": np.full(n_datasets, 0.05),
        }[family]
        perf[:, j] = 0.7 + effect + noise * rng.normal(size=n_datasets)
    level = rng.uniform(-0.1, 0.1, size=(n_datasets, 1))
    perf = np.clip(perf + level, 0, 1)
    ap = np.clip(perf - 0.4, 0, 1)
    features = pd.DataFrame(F, index=names, columns=[f"f{i}" for i in range(6)])
    return SelectionData(pd.DataFrame(perf, index=names, columns=table.index),
                         features, table, pd.DataFrame(ap, index=names, columns=table.index))


__all__ = ["MODELS", "SelectionData", "Selector", "configuration_features", "synthetic_selection_data"]
