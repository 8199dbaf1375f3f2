"""Reports: the leaderboard, its renderers, the CI check and plots."""
