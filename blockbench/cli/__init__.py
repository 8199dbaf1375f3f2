"""The ``blockbench`` command-line interface."""
