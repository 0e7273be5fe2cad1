"""Development tools shared by the test suite and the benchmarks: real servers as subprocesses.

For ``tests/`` and ``bench/`` only. Nothing in ``core/``, ``webapp/`` or ``modelsvc/`` imports
this package, and it is not part of any deployed image's code path.
"""
