"""Replay: evaluate policies against exhaustive tables at no training cost."""
