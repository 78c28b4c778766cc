"""The declarative parameter constraints (metaad/_constraints.py): edges, types and messages."""

from __future__ import annotations

import numpy as np
import pytest

from metaad._constraints import Check, Integral, Interval, Options, Real, check_params, describe
from metaad.exceptions import ParameterError


@pytest.mark.parametrize(("interval", "inside", "outside"), [
    (Interval(Real, 0, 0.5, closed="right"), [0.5, 1e-9, np.float32(0.25)], [0, 0.0, 0.51, float("nan"), True, "0.1"]),
    (Interval(Real, 0, 1, closed="left"), [0, 0.999], [1, 1.0, -1e-9]),
    (Interval(Real, 0, None, closed="neither"), [1e-12, 1e12, np.float64(2)], [0, -1.0, float("nan")]),
    (Interval(Integral, 1, None), [1, np.int64(7), 10**12], [0, 1.0, True, np.bool_(True), None, "3"]),
    (Interval(Integral, 0, 2**32 - 1), [0, 2**32 - 1], [-1, 2**32]),
])
def test_interval_ends_and_types(interval, inside, outside) -> None:
    assert all(interval.is_satisfied_by(v) for v in inside), [v for v in inside if not interval.is_satisfied_by(v)]
    assert not any(interval.is_satisfied_by(v) for v in outside), [v for v in outside if interval.is_satisfied_by(v)]


def test_options_compare_value_and_kind() -> None:
    options = Options("pgd", "fgsm")
    assert options.is_satisfied_by("pgd") and options.is_satisfied_by(np.str_("fgsm"))
    assert not options.is_satisfied_by("PGD") and not options.is_satisfied_by(None)
    assert not Options(1).is_satisfied_by(True) and Options(True).is_satisfied_by(True)


def test_check_keeps_a_parsers_own_message_and_treats_type_errors_as_invalid() -> None:
    def parse(v):
        if v == "bad":
            raise ParameterError("x='bad': the rate must be in (0, 1)")
        return len(v) > 0

    constraints = {"x": [Check("a non-empty string", parse)]}
    with pytest.raises(ParameterError, match=r"^det: x='bad': the rate must be in \(0, 1\)$"):
        check_params(constraints, {"x": "bad"}, "det")
    with pytest.raises(ParameterError, match="^det: x must be a non-empty string, got 3$"):  # len(3): TypeError
        check_params(constraints, {"x": 3}, "det")
    check_params(constraints, {"x": "ok"}, "det")


def test_check_params_skips_unlisted_and_no_validation_and_names_the_first_problem() -> None:
    constraints = {"a": [None, Interval(Integral, 1, None)], "b": "no_validation", "c": [bool]}
    check_params(constraints, {"a": None, "b": object(), "c": np.bool_(False), "d": "anything"})
    with pytest.raises(ParameterError, match=r"^a must be None or a positive integer, got 0$"):
        check_params(constraints, {"a": 0, "c": "yes"})
    with pytest.raises(ParameterError, match=r"^c must be True or False, got 'yes'$"):
        check_params(constraints, {"a": 1, "c": "yes"})


def test_describe_joins_the_alternatives() -> None:
    assert describe([Interval(Integral, 0, None)]) == "an integer >= 0"
    assert describe([None, Options("a", "b"), np.random.RandomState]) == "None, one of 'a', 'b' or a numpy.random.RandomState"
    assert str(Interval(Real, None, 1, closed="neither")) == "a number < 1"
    assert str(Interval(Integral, 2, 5)) == "an integer in [2, 5]"
