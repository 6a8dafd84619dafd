"""Helpers shared by the benchmark scripts (processes, wire tricks); not benchmarks themselves."""
