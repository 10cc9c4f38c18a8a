"""Benchmarks of the engine and the service; see bench/README.md."""
