"""Coverage-guided fuzz targets (atheris/libFuzzer), run by tests/reliability/test_atheris.py.

Each module is a script: `python -m tests.reliability.atheris_targets.<name> [libFuzzer flags] [corpus dirs]`,
with a seed corpus in seeds.py. A target fails (libFuzzer exits non-zero and keeps
the input as `crash-*`) on any exception other than the refusal the code path promises.
"""
