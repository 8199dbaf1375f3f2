"""User-facing errors: one line, naming the bad value and what would be valid."""

from __future__ import annotations

import pytest

from blockbench.core.errors import (
    BlockbenchError,
    PluginError,
    UnknownNameError,
    UsageError,
    suggest,
    unknown_name_message,
)

KNOWN = ["mobilenet", "mobilenet-v2", "mobilenet-v3-small", "resnet50-v2", "vgg16", "xception"]


@pytest.mark.parametrize(("typo", "first"), [("mobilenetv2", "mobilenet-v2"),
                                             ("vgg-16", "vgg16"), ("Xceptoin", "xception"),
                                             ("resnet", "resnet50-v2")])
def test_suggest_puts_the_closest_name_first(typo: str, first: str) -> None:
    assert suggest(typo, KNOWN)[0] == first


def test_suggest_finds_abbreviations_and_caps_the_count() -> None:
    assert "mobilenet-v3-small" in suggest("v3", KNOWN)
    assert len(suggest("mobilenet", KNOWN, n=2)) == 2
    assert suggest("zzzz", KNOWN) == []


def test_unknown_name_message_is_one_line_with_hint_and_listing() -> None:
    message = unknown_name_message("dataset", "flowers", ["tf-flowers", "oxford-flowers102"])
    assert message == ("unknown dataset 'flowers'. Did you mean 'tf-flowers', "
                       "'oxford-flowers102'? Known datasets: oxford-flowers102, tf-flowers.")
    assert unknown_name_message("policy", "x", []) == "unknown policy 'x'. Known policies: (none)."


def test_long_listings_are_cut_after_twenty_names() -> None:
    names = [f"net-{i:02d}" for i in range(25)]
    message = unknown_name_message("backbone", "zzz", names)
    assert "net-19, ..." in message and "net-20" not in message and "\n" not in message


def test_error_classes_carry_exit_codes_and_details() -> None:
    error = UnknownNameError("partition", "quater", ["quarter", "uniform"])
    assert isinstance(error, UsageError) and isinstance(error, BlockbenchError)
    assert (error.kind, error.name, error.known) == ("partition", "quater", ["quarter", "uniform"])
    assert "Did you mean 'quarter'?" in str(error)
    assert (BlockbenchError.exit_code, UsageError.exit_code, PluginError.exit_code) == (1, 2, 1)
