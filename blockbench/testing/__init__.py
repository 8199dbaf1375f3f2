"""Reusable pytest suites that check a plugin's components against blockbench's contracts.

A plugin's own tests subclass one suite per component and inherit its checks::

    from blockbench.testing import DatasetContract
    from my_plugin.data import MyData

    class TestMyData(DatasetContract):
        factory = MyData()
        options = {"limit": 40}
        plugin_module = "my_plugin.plugin"   # the module the entry point names
        registered_name = "my-data"

Checks that build or run Keras models are marked ``tf``; register the ``tf``
marker in your pytest configuration (see docs/writing-plugins.md). This
package imports pytest, from the ``testing`` extra (``pip install
'blockbench[testing]'``); blockbench itself never imports it.
"""

try:
    import pytest
except ModuleNotFoundError as exc:
    if exc.name != "pytest":
        raise
    raise ModuleNotFoundError("blockbench.testing needs pytest, which blockbench does not "
                              "install: pip install 'blockbench[testing]'", name="pytest") from None

# Before importing the suites, so their plain asserts get pytest's detailed messages.
pytest.register_assert_rewrite(
    "blockbench.testing.backbone_contract",
    "blockbench.testing.dataset_contract",
    "blockbench.testing.option_checks",
    "blockbench.testing.partition_contract",
    "blockbench.testing.policy_contract",
)

from blockbench.testing.backbone_contract import BackboneContract  # noqa: E402
from blockbench.testing.dataset_contract import DatasetContract  # noqa: E402
from blockbench.testing.fakes import (  # noqa: E402
    FakeEntryPoint,
    FakeEvaluator,
    MultiSeedFakeEvaluator,
    tiny_backbone,
    use_entry_points,
)
from blockbench.testing.partition_contract import PartitionContract  # noqa: E402
from blockbench.testing.policy_contract import PolicyContract  # noqa: E402
from blockbench.testing.probe import ProbeResult, probe_plugin  # noqa: E402

__all__ = [
    "BackboneContract",
    "DatasetContract",
    "FakeEntryPoint",
    "FakeEvaluator",
    "MultiSeedFakeEvaluator",
    "PartitionContract",
    "PolicyContract",
    "ProbeResult",
    "probe_plugin",
    "tiny_backbone",
    "use_entry_points",
]
