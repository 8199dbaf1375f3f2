"""Searches: settings, the compare driver, evaluators, progress and the work queue."""
