"""Places: districts, streets, communities and depots."""
