"""The declarative parameter checks shared by the runtime, the estimator and the export."""

from __future__ import annotations

import math

import numpy as np
import pytest
from seqrec_runtime.errors import InvalidParameterError, InvalidParameterTypeError
from seqrec_runtime.param_checks import Choice, Flag, Int, Real, check_param, check_params


@pytest.mark.parametrize("spec, good", [
    (Int(low=1), [1, 5, np.int64(3)]),
    (Int(low=0, none=True), [0, None]),
    (Int(low=1, none=True, also=("auto",)), ["auto", None, 2]),
    (Real(low=0.0, low_open=True), [1e-9, 3, np.float32(0.5)]),
    (Real(low=0.0, high=1.0, high_open=True), [0, 0.0, 0.999]),
    (Choice(choices=("a", "b")), ["a", np.str_("b")]),
    (Flag(), [True, False, np.bool_(True)]),
])
def test_allowed_values_pass_unchanged(spec, good):
    for value in good:
        assert check_param("p", value, spec) is value


@pytest.mark.parametrize("spec, bad, sentence", [
    (Int(low=1), 0, "p must be an int >= 1, got 0"),
    (Int(low=1), True, "p must be an int >= 1, got True"),
    (Int(low=1), 2.0, "p must be an int >= 1, got 2.0"),
    (Int(low=1, none=True, also=("auto",)), "Auto", "p must be an int >= 1 or 'auto', None"),
    (Real(low=0.0, low_open=True), 0.0, "p must be a finite number > 0, got 0.0"),
    (Real(low=0.0), math.inf, "p must be a finite number >= 0, got inf"),
    (Real(low=0.0), math.nan, "p must be a finite number >= 0, got nan"),
    (Real(low=0.0, high=1.0, high_open=True), 1.0, r"p must be a finite number in \[0, 1\)"),
    (Real(low=0.0), "1", "p must be a finite number >= 0, got '1'"),
    (Choice(choices=("a", "b")), "c", "p must be one of 'a', 'b', got 'c'"),
    (Choice(choices=(1, 2)), True, "p must be one of 1, 2, got True"),
    (Flag(), 1, "p must be True or False, got 1"),
])
def test_refusals_name_the_parameter_and_what_is_allowed(spec, bad, sentence):
    with pytest.raises(InvalidParameterError, match=sentence):
        check_param("p", bad, spec)


def test_wrong_types_can_raise_the_type_error_family():
    with pytest.raises(InvalidParameterTypeError, match="top_k must be an int >= 1"):
        check_param("top_k", "10", Int(low=1), wrong_type=InvalidParameterTypeError)
    with pytest.raises(InvalidParameterError):  # the right type out of range stays a value error
        check_param("top_k", 0, Int(low=1), wrong_type=InvalidParameterTypeError)


def test_check_params_checks_only_the_names_given():
    table = {"a": Int(low=1), "b": Flag()}
    check_params({"a": 3}, table)
    with pytest.raises(InvalidParameterError, match="b must be True or False"):
        check_params({"a": 3, "b": "yes"}, table)
