"""The core: errors, options, run identity, tasks, records and their file formats."""
