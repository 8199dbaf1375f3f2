"""Registries: name rules, forgiving lookup, aliases, duplicates and "did you mean"."""

from __future__ import annotations

import re

import pytest

from blockbench.core.errors import PluginError, UnknownNameError
from blockbench.plugin.registry import KINDS, Components, Registry, lookup_key


class Factory:
    """First line of the docstring.

    More text that is not part of the description.
    """


@pytest.fixture
def backbones() -> Registry[object]:
    registry: Registry[object] = Registry("backbone")
    registry._current_plugin = "tests.plugin"
    registry("mobilenet-v2", object(), description="MobileNetV2", aliases=("mnv2",))
    registry("mobilenet-v3-small", object(), description="MobileNetV3Small")
    registry("resnet50-v2", object(), description="ResNet50V2")
    return registry


@pytest.mark.parametrize("name", ["mobilenet-v2", "a", "resnet50-v2", "efficientnet-v2-b0", "x2"])
def test_lowercase_hyphenated_names_are_accepted(name: str) -> None:
    assert Registry[object]("backbone").add(name, object()).name == name


@pytest.mark.parametrize("name", ["MobileNetV2", "mobilenet_v2", "mobilenet v2", "-net", "net-",
                                  "net--v2", "", "mobilenet.v2", "ünet"])
def test_other_names_are_rejected_naming_the_plugin(name: str) -> None:
    registry: Registry[object] = Registry("backbone")
    registry._current_plugin = "acme.nets"
    with pytest.raises(PluginError, match=re.escape("'acme.nets'")) as info:
        registry.add(name, object())
    assert repr(name) in str(info.value) and "mobilenet-v2" in str(info.value)


@pytest.mark.parametrize("query", ["mobilenet-v2", "MobileNetV2", "mobilenet_v2", "MOBILENET-V2",
                                   " mobilenet v2 ", "mobilenet.v2", "MNV2"])
def test_lookup_ignores_case_and_separators_and_accepts_aliases(
        backbones: Registry[object], query: str) -> None:
    assert backbones.get(query).name == "mobilenet-v2"
    assert query in backbones


def test_lookup_key_normalises_case_and_separators() -> None:
    assert lookup_key("MobileNet_V3-Small") == lookup_key("mobilenet-v3-small") == "mobilenetv3small"


def test_unknown_name_suggests_close_names_on_one_line(backbones: Registry[object]) -> None:
    with pytest.raises(UnknownNameError) as info:
        backbones.get("mobilenet-v3")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown backbone 'mobilenet-v3'. Did you mean 'mobilenet-v2', "
                              "'mobilenet-v3-small'")
    assert message.endswith("Known backbones: mobilenet-v2, mobilenet-v3-small, resnet50-v2.")
    assert (info.value.kind, info.value.name) == ("backbone", "mobilenet-v3")
    assert 42 not in backbones


def test_duplicates_name_both_plugins_whether_by_name_alias_or_spelling(
        backbones: Registry[object]) -> None:
    backbones._current_plugin = "rival.nets"
    for name, aliases in [("mobilenet-v2", ()), ("mnv-2", ()), ("resnet", ("ResNet50_V2",))]:
        with pytest.raises(PluginError) as info:
            backbones.add(name, object(), aliases=aliases)
        message = str(info.value)
        assert "'tests.plugin'" in message and "'rival.nets'" in message
    assert backbones.names() == ["mobilenet-v2", "mobilenet-v3-small", "resnet50-v2"]


def test_description_defaults_to_the_first_docstring_line() -> None:
    entry = Registry[object]("dataset").add("my-data", Factory())
    assert entry.description == "First line of the docstring."
    assert Registry[object]("dataset").add("bare", object(), description="").description != ""


def test_entries_iterate_sorted_and_remove_plugin_drops_names_and_aliases(
        backbones: Registry[object]) -> None:
    backbones._current_plugin = "other.plugin"
    backbones.add("vgg16", object())
    assert [e.name for e in backbones] == backbones.names() and len(backbones) == 4
    backbones.remove_plugin("tests.plugin")
    assert backbones.names() == ["vgg16"]
    assert "mnv2" not in backbones and "MobileNetV2" not in backbones


def test_components_map_kind_names_to_registries() -> None:
    components = Components()
    for kind in KINDS:
        plural = "policies" if kind == "policy" else kind + "s"
        assert components.registry(kind) is components.registry(plural)
        assert components.registry(kind).kind == kind
    components.policies.add("exhaustive", object())
    assert [(k, e.name) for k, e in components.all_entries()] == [("policy", "exhaustive")]
