"""Reports: the leaderboard and its renderers, the shared document writer, the CI check, plots."""
