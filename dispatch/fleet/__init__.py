"""The fleet: vehicles per depot and their crews."""
