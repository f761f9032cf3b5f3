"""Benchmarks: ``make bench`` runs every one and prints its figures and the ratio to its limit."""
