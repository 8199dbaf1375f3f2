"""The results store: run and search records in SQLite or PostgreSQL, exports, listing."""
