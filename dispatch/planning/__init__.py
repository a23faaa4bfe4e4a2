"""Planning: supply-transfer plans computed by geo from database state, and their approval."""
