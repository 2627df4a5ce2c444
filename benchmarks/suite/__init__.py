"""mbert's own performance suite: scripts run as `python -m benchmarks.suite.NAME`."""
