"""The search space: the zoo lies inside it, every default is a point of it, and it is the one the policy uses."""

from __future__ import annotations

import pytest

from metaad.benchmark import space
from metaad.benchmark.zoo import get_zoo
from metaad.detectors.registry import get_detector_info


@pytest.mark.parametrize("zoo", ["default-v1", "default-v2"])
def test_every_zoo_configuration_lies_inside_the_space(zoo: str) -> None:
    outside = [(c.family, c.params) for c in get_zoo(zoo) if not space.contains(c.family, c.params)]
    assert not outside, outside[:5]


def test_every_unsupervised_zoo_family_is_searched() -> None:
    assert {c.family for c in get_zoo("default-v2")} <= set(space.families())


@pytest.mark.parametrize("family", space.families())
def test_dimensions_are_parameters_and_defaults_are_choices(family: str) -> None:
    accepted = get_detector_info(family).parameters
    for dim in space.family_space(family):
        assert dim.name in accepted, f"{family} has no parameter {dim.name}"
        dim.index(accepted[dim.name])  # raises when the default is not a choice
        assert len(dim.choices) == len(set(map(repr, dim.choices))), f"{family}.{dim.name} repeats a choice"
    # every point of the grid's corners builds a valid detector
    first = {d.name: d.choices[0] for d in space.family_space(family)}
    last = {d.name: d.choices[-1] for d in space.family_space(family)}
    for params in (first, last):
        get_detector_info(family).cls(**params)._validate_params()


def test_contains_refuses_values_off_the_grid_and_unknown_parameters() -> None:
    assert space.contains("iforest", {"n_estimators": 200, "max_samples": 1024})
    assert not space.contains("iforest", {"n_estimators": 201})
    assert not space.contains("iforest", {"bootstrap": True})
    assert not space.contains("devnet", {})


def test_canonical_params_drop_defaults_so_ids_match_the_zoo() -> None:
    assert space.canonical_params("knn", {"n_neighbors": 5, "method": "largest", "p": 2}) == {}
    assert space.canonical_params("autoencoder", {"hidden_sizes": [64, 32], "dropout": 0.0}) == {"hidden_sizes": (64, 32)}


def test_value_indices_fill_absent_dimensions_with_defaults() -> None:
    dims = space.family_space("lof")
    idx = space.value_indices("lof", {"n_neighbors": 50})
    assert [d.choices[i] for d, i in zip(dims, idx)] == [50, 2]
    with pytest.raises(ValueError, match="n_neighbors=7"):
        space.value_indices("lof", {"n_neighbors": 7})
