"""HTTP basics every service shares: app factory, health, metrics, auth, limits, error shapes."""
