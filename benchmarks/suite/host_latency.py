"""Host latency: BERT-base float32 vs MobileBERT float32/dynamic/int8, interleaved, 1 and 2 threads.

    python -m benchmarks.suite.host_latency                  # = --make-models (the real presets)
    python -m benchmarks.suite.host_latency --tiny           # nano presets, seq 64: seconds
    python -m benchmarks.suite.host_latency MODEL.tflite... [--threads 1,2]

With no files it measures random-weight exports of the real presets at seq 128 (bert-base
float32 first, as the ratio baseline; mobilebert float32, dynamic, int8), built once
through `converters.convert()` and cached in ~/.cache/mbert-bench (or --models-dir).
All models run in ONE interleaved (round-robin) run per thread count, so machine noise hits
them alike; the table prints each one's p50/p90/min and ratio to the first, then a summary
with the ratios for every thread count side by side.

Expected time on a 2-core x86 host (AMD EPYC, measured): first run ~15-20 min for the 4
conversions (~4 min each), then ~35 s per run with the default --runs 50 (bert-base float32
is ~0.22 s per inference at 1 thread, mobilebert dynamic ~19 ms). --tiny: ~50 s the first
time (4 nano conversions), ~5 s after. Absolute times differ a lot between machines; quote the ratios.
"""

from __future__ import annotations

import argparse

from benchmarks.suite._common import model_args, resolve_models

_MODE_LABEL = {"none": "float32"}  # the converter's mode name for an unquantized file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    model_args(parser, default_make=True)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=0.0)
    parser.add_argument("--no-xnnpack", action="store_true", help="builtin kernels only")
    args = parser.parse_args(argv)
    models = resolve_models(args)

    from benchmarks.host import HostSettings, run_host
    from benchmarks.report import fmt_ms, ratios

    summary: dict[int, list[float]] = {}
    names: list[str] = []
    for threads in (int(t) for t in args.threads.split(",")):
        results = run_host(models, HostSettings(threads=threads, runs=args.runs, warmup=args.warmup,
                                                min_seconds=args.min_seconds, xnnpack=not args.no_xnnpack))
        print(f"\nthreads={threads}  runs={results[0].inference.count}  "
              f"runtime={results[0].environment.runtime_name} {results[0].environment.runtime_version}  "
              f"cpu={results[0].environment.cpu_model} x{results[0].environment.cores}")
        print(f"{'model':36s} {'mode':8s} {'MB':>7s} {'p50 ms':>9s} {'p90 ms':>9s} {'min ms':>9s} {'ratio':>7s} "
              f"{'xnnpack nodes':>16s}")
        rs = ratios(results)
        summary[threads] = rs
        names = [r.model.name for r in results]
        for r, ratio in zip(results, rs, strict=True):
            cov = r.coverage
            cover = f"{cov.delegated_nodes}/{cov.total_nodes} in {cov.partitions}p" if cov.total_nodes else "-"
            print(f"{r.model.name:36s} {_MODE_LABEL.get(r.model.mode, r.model.mode) or '-':8s} {r.model.size_mb:7.2f} "
                  f"{fmt_ms(r.inference.p50_ms):>9s} {fmt_ms(r.inference.p90_ms):>9s} {fmt_ms(r.inference.min_ms):>9s} "
                  f"{ratio:6.2f}x {cover:>16s}")
    if len(summary) > 1:
        print(f"\np50 ratio to {names[0]}, threads side by side")
        print(f"{'model':36s} " + " ".join(f"{f'{t} thr':>8s}" for t in summary))
        for i, name in enumerate(names):
            print(f"{name:36s} " + " ".join(f"{summary[t][i]:7.2f}x" for t in summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
