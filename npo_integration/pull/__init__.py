"""The pull path: scheduling NPO pulls and extracting their records onto the raw-records topic."""
