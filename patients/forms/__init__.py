"""The coordinators' forms: each reads what was typed, and a view hands it to one service."""
