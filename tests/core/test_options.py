"""Component options and KEY=VALUE flags."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.options import (
    REQUIRED,
    check_named_options,
    complete_options,
    parse_assignments,
    required_options,
)


def test_parse_assignments_reads_toml_values_and_keeps_plain_text() -> None:
    parsed = parse_assignments(("k=12", "delimiters=maxpool,activation", "alpha=0.25",
                                'pattern=^(conv\\d)_', "flag=true"), "--param")
    assert parsed == {"k": 12, "delimiters": "maxpool,activation", "alpha": 0.25,
                      "pattern": "^(conv\\d)_", "flag": True}
    for bad in ("=3", "k"):
        with pytest.raises(UsageError, match="--param expects KEY=VALUE"):
            parse_assignments((bad,), "--param")


def test_complete_options_fills_defaults_and_names_unknown_keys() -> None:
    defaults = {"alpha": 1.0, "minimalistic": False}
    assert complete_options({"alpha": 0.5}, defaults, "backbone") == {
        "alpha": 0.5, "minimalistic": False}
    with pytest.raises(UsageError) as info:
        complete_options({"alpah": 0.5}, defaults, "backbone")
    message = str(info.value)
    assert "unknown backbone option(s) alpah; valid: alpha, minimalistic." in message
    assert "Did you mean 'alpha'?" in message


def test_with_a_name_the_message_names_the_component_and_its_kind() -> None:
    with pytest.raises(UsageError) as info:
        complete_options({"kk": 3}, {"k": None}, "policy", "random")
    assert str(info.value) == "unknown option(s) kk for policy 'random'; valid: k. Did you mean 'k'?"


def test_a_required_option_must_be_given() -> None:
    defaults = {"path": REQUIRED, "max_per_class": None}
    assert required_options(defaults) == ["path"]
    assert complete_options({"path": "x"}, defaults, "dataset") == {"path": "x", "max_per_class": None}
    with pytest.raises(UsageError) as info:
        complete_options({}, defaults, "dataset", "image-folder")
    assert str(info.value) == "dataset 'image-folder' needs the option path; give path=VALUE"
    with pytest.raises(UsageError, match=r"^this dataset needs the options a, b; give a=VALUE b=VALUE$"):
        complete_options({}, {"a": REQUIRED, "b": REQUIRED}, "dataset")


def test_required_survives_copies_and_pickles() -> None:
    assert copy.deepcopy({"path": REQUIRED})["path"] is REQUIRED
    assert pickle.loads(pickle.dumps(REQUIRED)) is REQUIRED
    assert repr(REQUIRED) == "REQUIRED"


class _Checked:
    option_defaults = {"k": 8}

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        checked = complete_options(options, self.option_defaults, "partition")
        if checked["k"] < 1:
            raise UsageError(f"k={checked['k']} must be positive")
        return checked


def test_named_check_names_the_component_then_runs_its_own_check() -> None:
    assert check_named_options(_Checked(), {"k": 2}, "partition", "uniform") == {"k": 2}
    with pytest.raises(UsageError, match=r"^unknown option\(s\) n for partition 'uniform'"):
        check_named_options(_Checked(), {"n": 2}, "partition", "uniform")
    with pytest.raises(UsageError, match="k=0 must be positive"):
        check_named_options(_Checked(), {"k": 0}, "partition", "uniform")
