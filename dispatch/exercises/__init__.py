"""Exercises: drill sandboxes (a schema per exercise) and scenario files."""
