"""Component options and KEY=VALUE flags."""

from __future__ import annotations

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.options import complete_options, parse_assignments


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
    assert complete_options({"alpha": 0.5}, defaults, "backbone option") == {
        "alpha": 0.5, "minimalistic": False}
    with pytest.raises(UsageError) as info:
        complete_options({"alpah": 0.5}, defaults, "backbone option")
    message = str(info.value)
    assert "unknown backbone option(s) alpah; valid: alpha, minimalistic." in message
    assert "Did you mean 'alpha'?" in message
