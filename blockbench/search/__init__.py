"""Searches: settings, the compare driver, evaluators, progress and the dry run's plan."""
