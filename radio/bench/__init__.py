"""Benchmarks behind `radio bench`: each prints its figures and saves them as JSON."""
