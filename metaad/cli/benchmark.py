"""Benchmark and knowledge-base commands (being built)."""
