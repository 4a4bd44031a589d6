"""pasokh."""
