"""People: partner units, pairings, on-duty Party members, teams, duty and care households."""
