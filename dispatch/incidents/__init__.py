"""Incidents: requests from communities, closures, depot outages and field tasks."""
