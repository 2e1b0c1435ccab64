"""Therapy: individual sessions, groups and their members, and attendance."""
