"""Pages: the squad tablet, the command center, the drill view, admin and about."""
