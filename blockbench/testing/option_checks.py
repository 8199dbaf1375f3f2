"""The options checks every contract suite shares: defaults completed, required ones enforced."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from blockbench.core.errors import UsageError
from blockbench.core.options import required_options

UNKNOWN_OPTION = "no_such_option_xyz"


def assert_completes_defaults(check_options: Callable[[Mapping[str, Any]], dict[str, Any]],
                              defaults: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    """``check_options`` fills in ``defaults`` and refuses to go without a REQUIRED option.

    Args:
        check_options: the component's check.
        defaults: its ``option_defaults``.
        options: the suite's ``options`` (they must give every required option).
    """
    required = required_options(defaults)
    ungiven = [key for key in required if key not in options]
    if ungiven:
        pytest.fail(f"option(s) {', '.join(ungiven)} are REQUIRED: give them in the suite's "
                    "`options`", pytrace=False)
    if required:
        with pytest.raises(UsageError, match=re.escape(required[0])):
            check_options({})
    else:
        assert check_options({}) == dict(defaults), (
            "check_options({}) must return exactly option_defaults"
        )
    completed = check_options(dict(options))
    assert set(completed) == set(defaults) | set(options), (
        f"check_options returned keys {sorted(completed)}, expected {sorted(defaults)}"
    )


def assert_unknown_option_is_refused(check_options: Callable[[Mapping[str, Any]], Any],
                                     options: Mapping[str, Any]) -> None:
    """An option the component does not declare is a UsageError naming it."""
    with pytest.raises(UsageError, match=UNKNOWN_OPTION):
        check_options({**options, UNKNOWN_OPTION: 1})
