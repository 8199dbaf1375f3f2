"""The pydantic adapter: one line naming where a bad value came from, it, and what is valid."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import Field

from blockbench.core.errors import UsageError
from blockbench.core.validation import Source, StrictModel, toml_value, validate


class Inner(StrictModel):
    noun: ClassVar[str] = "inner key"
    size: int = Field(default=1, ge=1, description="a whole number, at least 1")


class Outer(StrictModel):
    count: int = Field(default=1, ge=1, description="a whole number, at least 1")
    names: list[str] = Field(default=[], description="a list of names")
    inner: Inner = Field(default_factory=Inner, description="a table, [inner]")
    tables: dict[str, dict[str, Any]] = Field(default={}, description="tables of tables")


FLAGS = Source("the command line", {"count": "--count", "inner": "--inner", "names": "--name"})


def _message(values: dict, source: Source) -> str:
    with pytest.raises(UsageError) as caught:
        validate(Outer, values, source)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "\n" not in message and "pydantic" not in message and "Input should" not in message
    return message


@pytest.mark.parametrize(("values", "source", "message"), [
    ({"count": 0}, Source.file("a.toml"), "a.toml count = 0 is not valid; use a whole number, "
                                          "at least 1"),
    ({"count": 0}, FLAGS, "--count 0 is not valid; use a whole number, at least 1"),
    ({"inner": {"size": "x"}}, Source.file("a.toml"),
     'a.toml [inner] size = "x" is not valid; use a whole number, at least 1'),
    ({"inner": {"size": "x"}}, FLAGS, "--inner size=x is not valid"),
    ({"inner": 3}, Source.file("a.toml"), "a.toml inner = 3 is not valid; use a table, [inner]"),
    ({"names": ["a", 5]}, Source.file("a.toml"), 'a.toml names = ["a", 5] is not valid'),
    ({"tables": {"t": 3}}, Source.file("a.toml"), "a.toml [tables] t = 3 is not valid; use tables"),
    ({"inner": {"sise": 2}}, Source.file("a.toml"),
     "unknown inner key 'sise' in a.toml [inner]. Did you mean 'size'? Valid: size."),
    ({"inner": {"sise": 2}}, FLAGS, "unknown inner key 'sise' in --inner. Did you mean 'size'?"),
    ({"zzz": 2}, Source.file("a.toml"), "unknown setting 'zzz' in a.toml. Valid: count, inner, "
                                        "names, tables."),
])
def test_a_validation_error_is_one_line(values: dict, source: Source, message: str) -> None:
    assert message in _message(values, source)


def test_values_are_spelled_as_in_toml() -> None:
    assert [toml_value(v) for v in (True, "two", [0.7, "a"], 3, 2.5, {"k": 1})] == \
        ["true", '"two"', '[0.7, "a"]', "3", "2.5", '{"k": 1}']
