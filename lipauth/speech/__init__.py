"""Spoken phrases: the challenge vocabulary and an offline recogniser constrained to it."""
