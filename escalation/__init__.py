"""Deciding what happens next: policies, completion rules and the pure ``decide`` function."""
