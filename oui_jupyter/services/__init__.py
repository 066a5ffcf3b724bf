"""The logic: chat turns, completions, indexing, search, tasks (no tornado here)."""
