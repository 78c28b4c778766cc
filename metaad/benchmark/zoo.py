"""The configuration zoo: a declarative, named and versioned space of concrete detector configurations.

A zoo is built from :class:`FamilySpace` entries, one per detector family: a grid of hyperparameter values
(for deep detectors: architecture, training and options) and, for large grids, how many configurations to
draw from it with a fixed seed. Expanding a zoo is deterministic, so the same zoo name always yields the same
configurations and the same ids. Families that are not registered (a detector not installed yet) are skipped
with a log message, as are configurations whose parameters the registered class does not accept; adding a
family is one more :class:`FamilySpace` in :data:`ZOO_SPACES`.

Examples
--------
>>> zoo = get_zoo("default-v1")
>>> len(zoo) >= 300
True
>>> cfg = zoo[0]
>>> cfg.config_id.startswith(cfg.family + "-")
True
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from metaad.exceptions import ParameterError

if TYPE_CHECKING:
    from metaad.detectors.base import BaseDetector

logger = logging.getLogger(__name__)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces, tuples as lists: the text configuration ids are hashed from.

    Examples
    --------
    >>> canonical_json({"b": (1, 2), "a": None})
    '{"a":null,"b":[1,2]}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _from_json(value: Any) -> Any:
    """Lists back to tuples (the detectors take tuples for sizes)."""
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    return value


@dataclass(frozen=True)
class Configuration:
    """One concrete detector configuration: a family (registered detector name) and its parameters.

    Parameters
    ----------
    family : str
        A registered detector name (``iforest``, ``autoencoder``...).
    params : dict
        Constructor parameters; ``random_state`` is not part of a configuration (a trial sets it).

    Examples
    --------
    >>> cfg = Configuration("iforest", {"n_estimators": 50})
    >>> cfg.config_id
    'iforest-...'
    >>> cfg.make_detector(random_state=0).get_params()["n_estimators"]
    50
    """

    family: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def params_json(self) -> str:
        """The parameters as canonical JSON."""
        return canonical_json(self.params)

    @property
    def config_id(self) -> str:
        """A stable id: the family and the first 8 hex digits of the SHA-256 of the canonical JSON."""
        digest = hashlib.sha256(canonical_json({"family": self.family, "params": self.params}).encode()).hexdigest()
        return f"{self.family}-{digest[:8]}"

    def make_detector(self, **overrides: Any) -> BaseDetector:
        """Build the detector through the registry, with ``overrides`` (e.g. ``random_state``) on top."""
        from metaad.detectors.registry import make_detector

        return make_detector(self.family, **{k: _from_json(v) for k, v in self.params.items()}, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """``config_id``, ``family`` and ``params_json``: a row of a configurations table."""
        return {"config_id": self.config_id, "family": self.family, "params_json": self.params_json}

    @classmethod
    def from_json(cls, family: str, params_json: str) -> Configuration:
        """Rebuild a configuration from a results row."""
        return cls(family, json.loads(params_json))

    def __hash__(self) -> int:
        return hash(self.config_id)


@dataclass(frozen=True)
class FamilySpace:
    """The search space of one family.

    Parameters
    ----------
    family : str
        Registered detector name.
    grid : dict
        Parameter name -> tuple of values; the configurations are the Cartesian product.
    n_samples : int, optional
        Draw this many distinct configurations from the product (seeded by the zoo and family names)
        instead of taking all of it.
    unsupervised : bool, default True
        False for detectors that need labels (DevNet); unsupervised zoos leave them out.
    """

    family: str
    grid: dict[str, tuple[Any, ...]]
    n_samples: int | None = None
    unsupervised: bool = True

    def expand(self, zoo_name: str) -> list[Configuration]:
        """The concrete configurations of this space, in a deterministic order."""
        names = sorted(self.grid)
        combos = list(itertools.product(*(self.grid[n] for n in names)))
        if self.n_samples is not None and self.n_samples < len(combos):
            rng = random.Random(f"{zoo_name}/{self.family}")
            combos = [combos[i] for i in sorted(rng.sample(range(len(combos)), self.n_samples))]
        return [Configuration(self.family, {n: _to_json(v) for n, v in zip(names, combo)}) for combo in combos]


def _to_json(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


#: The space shared by the deep detectors: architecture, training and options. Epochs are few on purpose
#: (the knowledge base is built on small CPUs); a larger zoo can raise them.
DEEP_GRID: dict[str, tuple[Any, ...]] = {
    "hidden_sizes": ((32,), (64,), (64, 32), (128, 64), (128, 64, 32)),
    "latent_size": (2, 4, 8, 16),
    "activation": ("relu", "leaky_relu", "tanh", "elu"),
    "dropout": (0.0, 0.1, 0.2),
    "n_epochs": (3, 5, 10),
    "batch_size": (32, 64, 128),
    "learning_rate": (1e-3, 3e-3, 1e-2),
    "weight_decay": (0.0, 1e-5, 1e-4),
    "adversarial": (None, "pgd"),
}

_DEFAULT_V1: tuple[FamilySpace, ...] = (
    FamilySpace("iforest", {"n_estimators": (50, 100, 200), "max_samples": ("auto", 0.5, 1.0), "max_features": (0.5, 1.0)}),
    FamilySpace("ecod", {}),
    FamilySpace("copod", {}),
    FamilySpace("hbos", {"n_bins": (5, 10, 20, 50, "auto"), "alpha": (0.1, 0.5), "tol": (0.1, 0.5)}),
    FamilySpace("knn", {"n_neighbors": (1, 3, 5, 10, 20, 50), "method": ("largest", "mean", "median"), "p": (1, 2)}),
    FamilySpace("lof", {"n_neighbors": (5, 10, 15, 20, 35, 50, 75), "p": (1, 2)}),
    FamilySpace("ocsvm", {"kernel": ("rbf",), "nu": (0.05, 0.1, 0.3, 0.5, 0.7), "gamma": ("auto", "scale", 0.01, 0.1)}),
    FamilySpace("ocsvm", {"kernel": ("linear", "poly", "sigmoid"), "nu": (0.1, 0.5)}),
    FamilySpace("pca", {"n_components": (None, 0.5, 0.7, 0.9, 0.95, 0.99), "whiten": (False, True), "weighted": (True, False)}),
    FamilySpace("loda", {"n_bins": (5, 10, 20, 50), "n_random_cuts": (50, 100, 200)}),
    FamilySpace("autoencoder", DEEP_GRID, n_samples=100),
    FamilySpace("vae", DEEP_GRID, n_samples=30),
    FamilySpace("deep_svdd", DEEP_GRID, n_samples=30),
    FamilySpace("wgan", DEEP_GRID, n_samples=30),
    FamilySpace("devnet", DEEP_GRID, n_samples=40, unsupervised=False),
)


@dataclass(frozen=True)
class FixedConfigurations:
    """A family's configurations listed one by one (a pruned zoo), instead of a grid.

    Parameters
    ----------
    family : str
        Registered detector name.
    params : tuple of dict
        One dict of parameters per configuration.
    unsupervised : bool, default True
        False for detectors that need labels.
    """

    family: str
    params: tuple[dict[str, Any], ...]
    unsupervised: bool = True

    def expand(self, zoo_name: str) -> list[Configuration]:
        """The listed configurations, in order."""
        return [Configuration(self.family, {k: _to_json(v) for k, v in p.items()}) for p in self.params]


def _deep(hidden: tuple[int, ...], latent: int, activation: str, dropout: float, n_epochs: int, batch: int,
          lr: float, wd: float, adversarial: str | None) -> dict[str, Any]:
    return {"hidden_sizes": hidden, "latent_size": latent, "activation": activation, "dropout": dropout,
            "n_epochs": n_epochs, "batch_size": batch, "learning_rate": lr, "weight_decay": wd, "adversarial": adversarial}


#: ``default-v2``: the pruned zoo the size-aware knowledge base is built on (47 configurations, against 342 in
#: ``default-v1``), so that trials at 5,000 rows and at full size fit a 2-core machine. It is the union of
#: (a) every family's default configuration (what a user gets by naming the family), (b) each family's three best
#: configurations by mean AUROC in the 500-row ``default-v1`` knowledge base (one for ``wgan``, whose training has
#: no step budget and is slow at full size), (c) the ten configurations that, added greedily, most raise the mean
#: per-dataset best AUROC of the set there (facility location; the set reaches 0.896 of the 0.902 oracle), and
#: (d) neighbour counts and subsample sizes that grow with the data (kNN/LOF with 100 and 200 neighbours,
#: Isolation Forest on 1,024- and 4,096-row subsamples), which only larger tables can reward.
#: The selection is reproduced by benchmarks/prune_zoo.py.
_DEFAULT_V2: tuple[FixedConfigurations, ...] = (
    FixedConfigurations("iforest", (
        {}, {"max_features": 1.0, "max_samples": 1.0, "n_estimators": 200},
        {"max_features": 1.0, "max_samples": 0.5, "n_estimators": 200},
        {"max_features": 1.0, "max_samples": 1.0, "n_estimators": 100},
        {"max_samples": 1024, "n_estimators": 200}, {"max_samples": 4096, "n_estimators": 200})),
    FixedConfigurations("ecod", ({},)),
    FixedConfigurations("copod", ({},)),
    FixedConfigurations("hbos", (
        {}, {"alpha": 0.1, "n_bins": "auto", "tol": 0.1}, {"alpha": 0.1, "n_bins": "auto", "tol": 0.5},
        {"alpha": 0.5, "n_bins": "auto", "tol": 0.1}, {"alpha": 0.1, "n_bins": 20, "tol": 0.1})),
    FixedConfigurations("knn", (
        {}, {"method": "median", "n_neighbors": 20, "p": 1}, {"method": "largest", "n_neighbors": 10, "p": 1},
        {"method": "mean", "n_neighbors": 20, "p": 1}, {"method": "median", "n_neighbors": 1, "p": 2},
        {"method": "mean", "n_neighbors": 20, "p": 2}, {"method": "mean", "n_neighbors": 100, "p": 2},
        {"method": "largest", "n_neighbors": 200, "p": 2})),
    FixedConfigurations("lof", (
        {}, {"n_neighbors": 50, "p": 1}, {"n_neighbors": 75, "p": 1}, {"n_neighbors": 50, "p": 2},
        {"n_neighbors": 15, "p": 2}, {"n_neighbors": 5, "p": 2}, {"n_neighbors": 100, "p": 2},
        {"n_neighbors": 200, "p": 2})),
    FixedConfigurations("ocsvm", (
        {}, {"gamma": "scale", "kernel": "rbf", "nu": 0.7}, {"gamma": 0.1, "kernel": "rbf", "nu": 0.7},
        {"kernel": "sigmoid", "nu": 0.1}, {"kernel": "linear", "nu": 0.1})),
    FixedConfigurations("pca", (
        {}, {"n_components": 0.7, "weighted": True, "whiten": True}, {"n_components": 0.7, "weighted": False, "whiten": False})),
    FixedConfigurations("loda", ({}, {"n_bins": 50, "n_random_cuts": 200}, {"n_bins": 20, "n_random_cuts": 200})),
    FixedConfigurations("autoencoder", (
        {}, _deep((64, 32), 16, "tanh", 0.0, 10, 64, 3e-3, 1e-4, "pgd"), _deep((64, 32), 16, "tanh", 0.0, 5, 64, 1e-2, 1e-4, "pgd"),
        _deep((128, 64, 32), 8, "elu", 0.2, 10, 128, 3e-3, 1e-4, "pgd"))),
    FixedConfigurations("vae", (
        {}, _deep((128, 64), 2, "tanh", 0.2, 10, 64, 1e-2, 0.0, "pgd"), _deep((64, 32), 2, "tanh", 0.0, 5, 64, 1e-2, 0.0, "pgd"),
        _deep((128, 64, 32), 2, "tanh", 0.2, 10, 32, 3e-3, 1e-4, None))),
    FixedConfigurations("deep_svdd", (
        {}, _deep((64,), 16, "elu", 0.2, 5, 32, 1e-3, 1e-4, None), _deep((128, 64), 16, "elu", 0.2, 5, 128, 3e-3, 1e-4, None),
        _deep((32,), 16, "tanh", 0.0, 10, 32, 1e-2, 0.0, None))),
    FixedConfigurations("wgan", (_deep((64, 32), 2, "relu", 0.1, 3, 128, 1e-3, 1e-5, None),)),
)

#: Every named zoo: name -> its family spaces.
ZOO_SPACES: dict[str, tuple[FamilySpace | FixedConfigurations, ...]] = {"default-v1": _DEFAULT_V1, "default-v2": _DEFAULT_V2}


#: Training rows above which a family is not fitted (its time grows about quadratically or worse with the rows:
#: a one-class SVM took minutes on 24,000 rows). The benchmark records such a trial as ``skipped`` and ``auto``
#: does not consider the family for larger tables.
MAX_TRAIN_ROWS: dict[str, int] = {"ocsvm": 10_000}


def fits_size(family: str, n_train: int) -> bool:
    """Whether ``family`` may be fitted on ``n_train`` rows (see :data:`MAX_TRAIN_ROWS`).

    Examples
    --------
    >>> fits_size("ocsvm", 50_000), fits_size("iforest", 50_000)
    (False, True)
    """
    return n_train <= MAX_TRAIN_ROWS.get(family, n_train)


def list_zoos() -> list[str]:
    """Names of the known zoos.

    Examples
    --------
    >>> "default-v1" in list_zoos()
    True
    """
    return sorted(ZOO_SPACES)


def get_zoo(name: str = "default-v2", *, unsupervised: bool = True, families: list[str] | None = None) -> list[Configuration]:
    """The concrete configurations of the zoo ``name``, for the families registered now.

    Parameters
    ----------
    name : str, default "default-v2"
        A name from :func:`list_zoos`.
    unsupervised : bool, default True
        Leave out the families that need labels.
    families : list of str, optional
        Keep only these families.

    Returns
    -------
    list of Configuration
        Distinct configurations (duplicates by id removed), in a deterministic order.

    Raises
    ------
    ParameterError
        For an unknown zoo name.

    Examples
    --------
    >>> zoo = get_zoo("default-v1", families=["ecod", "iforest"])
    >>> sorted({c.family for c in zoo}), len(zoo)
    (['ecod', 'iforest'], 19)
    """
    from metaad.detectors.registry import list_detectors

    if name not in ZOO_SPACES:
        raise ParameterError(f"unknown zoo {name!r}; known zoos: {', '.join(list_zoos())}")
    registered = {info.name: info for info in list_detectors(details=True)}
    configs: dict[str, Configuration] = {}
    for space in ZOO_SPACES[name]:
        if families is not None and space.family not in families:
            continue
        if unsupervised and not space.unsupervised:
            continue
        if space.family not in registered:
            logger.info("zoo %s: family %r is not registered; skipped", name, space.family)
            continue
        accepted = set(registered[space.family].parameters)
        for cfg in space.expand(name):
            unknown = set(cfg.params) - accepted
            if unknown:
                logger.info("zoo %s: %s does not accept %s; configuration skipped", name, space.family, sorted(unknown))
                continue
            configs.setdefault(cfg.config_id, cfg)
    return list(configs.values())


def default_configurations(families: list[str] | None = None) -> list[Configuration]:
    """One configuration per registered family at its default parameters (``params == {}``).

    Examples
    --------
    >>> [c.config_id for c in default_configurations(["ecod"])] == [Configuration("ecod", {}).config_id]
    True
    """
    from metaad.detectors.registry import list_detectors

    names = list_detectors()
    return [Configuration(n, {}) for n in names if families is None or n in families]
