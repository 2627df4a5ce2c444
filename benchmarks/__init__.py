"""Benchmarks: host latency (LiteRT), device latency (benchmark_model over adb), one result type.

Import the submodules you need (`benchmarks.host`, `benchmarks.device`, `benchmarks.report`);
this package imports nothing heavy so `mbert --help` stays fast.
"""

from benchmarks.result import SCHEMA_VERSION, BenchReport, BenchResult  # noqa: F401
