"""Host latency of several models side by side, one interleaved run per thread count.

    python -m benchmarks.suite.host_latency MODEL.tflite... [--threads 1,2]
    python -m benchmarks.suite.host_latency --make-models

Prints each model's p50/p90 and its ratio to the first model. Absolute times differ a lot
between machines; the ratios within one run are the figure to quote.
"""

from __future__ import annotations

import argparse

from benchmarks.suite._common import model_args, resolve_models


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_args(parser)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.0)
    parser.add_argument("--no-xnnpack", action="store_true", help="builtin kernels only")
    args = parser.parse_args(argv)
    models = resolve_models(args)

    from benchmarks.host import HostSettings, run_host  # noqa: PLC0415
    from benchmarks.report import fmt_ms, ratios  # noqa: PLC0415

    for threads in (int(t) for t in args.threads.split(",")):
        results = run_host(models, HostSettings(threads=threads, runs=args.runs, warmup=args.warmup,
                                                min_seconds=args.min_seconds, xnnpack=not args.no_xnnpack))
        print(f"\nthreads={threads}  runs={results[0].inference.count}  "
              f"runtime={results[0].environment.runtime_name} {results[0].environment.runtime_version}  "
              f"cpu={results[0].environment.cpu_model} x{results[0].environment.cores}")
        print(f"{'model':28s} {'mode':9s} {'MB':>7s} {'p50 ms':>9s} {'p90 ms':>9s} {'ratio':>7s} {'xnnpack nodes':>16s}")
        for r, ratio in zip(results, ratios(results), strict=True):
            cov = r.coverage
            cover = f"{cov.delegated_nodes}/{cov.total_nodes} in {cov.partitions}p" if cov.total_nodes else "-"
            print(f"{r.model.name:28s} {r.model.mode or '-':9s} {r.model.size_mb:7.2f} {fmt_ms(r.inference.p50_ms):>9s} "
                  f"{fmt_ms(r.inference.p90_ms):>9s} {ratio:6.2f}x {cover:>16s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
