"""The configuration zoo: size, coverage, stable ids, building through the registry."""

from __future__ import annotations

import pytest

from metaad.detectors.registry import list_detectors
from metaad.exceptions import ParameterError
from metaad.benchmark import zoo as zoo_module
from metaad.benchmark.zoo import Configuration, FamilySpace, get_zoo, list_zoos


@pytest.fixture(scope="module")
def zoo() -> list[Configuration]:
    return get_zoo("default-v1")


def test_default_zoo_is_large_and_spans_every_unsupervised_family(zoo: list[Configuration]) -> None:
    assert len(zoo) >= 300
    families = {c.family for c in zoo}
    spaced = {s.family for s in zoo_module.ZOO_SPACES["default-v1"] if s.unsupervised}
    registered = set(list_detectors())
    assert families == spaced & registered
    assert {"iforest", "ecod", "copod", "hbos", "knn", "lof", "ocsvm", "pca", "loda", "autoencoder"} <= families
    assert "devnet" not in families  # needs labels


def test_ids_are_unique_stable_and_prefixed(zoo: list[Configuration]) -> None:
    ids = [c.config_id for c in zoo]
    assert len(set(ids)) == len(ids)
    assert [c.config_id for c in get_zoo("default-v1")] == ids
    assert Configuration("iforest", {"n_estimators": 50, "max_features": 0.5}).config_id == \
        Configuration("iforest", {"max_features": 0.5, "n_estimators": 50}).config_id
    assert all(c.config_id.startswith(f"{c.family}-") and len(c.config_id) == len(c.family) + 9 for c in zoo)


def test_deep_configurations_vary_architecture_training_and_options(zoo: list[Configuration]) -> None:
    deep = [c for c in zoo if c.family == "autoencoder"]
    for key in ("hidden_sizes", "latent_size", "activation", "dropout", "n_epochs", "batch_size", "learning_rate",
                "weight_decay", "adversarial"):
        assert len({str(c.params[key]) for c in deep}) > 1, key


def test_every_configuration_builds_through_the_registry(zoo: list[Configuration]) -> None:
    for cfg in zoo:
        detector = cfg.make_detector(random_state=0)
        assert detector.registry_name == cfg.family


def test_unknown_families_are_skipped_and_unknown_zoo_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    spaces = {"tiny": (FamilySpace("ecod", {}), FamilySpace("not_a_detector", {"a": (1, 2)}))}
    monkeypatch.setattr(zoo_module, "ZOO_SPACES", spaces)
    assert [c.family for c in get_zoo("tiny")] == ["ecod"]
    with pytest.raises(ParameterError, match="unknown zoo"):
        get_zoo("nope")


def test_list_zoos() -> None:
    assert "default-v1" in list_zoos()
