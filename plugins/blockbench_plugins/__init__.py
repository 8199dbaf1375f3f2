"""blockbench's built-in plugins.

Each module is a plugin registered through the ``blockbench`` entry-point
group in blockbench's own ``pyproject.toml``, exactly as a third-party plugin
would be. Modules here must import cheaply: TensorFlow only inside factories.
"""
