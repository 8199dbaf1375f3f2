"""Data: turn a registered dataset into decoded, split, preprocessed arrays."""
