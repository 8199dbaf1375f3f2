"""An example third-party blockbench plugin.

It adds the ``example-stripes`` dataset, the ``every-n-weighted`` partition
strategy and the ``blockbench example-stripes`` preview command. Blockbench
finds it through the ``blockbench`` entry point declared in pyproject.toml,
which names :mod:`blockbench_example.plugin`.
"""

__version__ = "0.1.0"
