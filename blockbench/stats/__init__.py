"""Statistics: grouping runs into tables, per-table tests, ranking and quarters."""
