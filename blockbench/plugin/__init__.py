"""The plugin host: hook declarations, the plugin manager and the registries."""
