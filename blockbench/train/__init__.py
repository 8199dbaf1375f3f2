"""Training: the engine, the per-run loop, compiled steps and the activation cache."""
