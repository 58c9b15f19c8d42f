"""Benchmarks that ship with the package, so that ``genaug benchmark`` works from any install.

The full suites, which read the data sets of ``../shared/data``, live in the repository's
``benchmarks/`` folder; this package holds the quick benchmark and the helpers they share.
"""

from genaug.bench.quick import run_quick

__all__ = ["run_quick"]
