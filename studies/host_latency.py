"""Host latency: BERT-base float32 vs MobileBERT float32/dynamic/int8, interleaved, 1 and 2 threads.

    python -m studies.host_latency                  # = --make-models (the real presets)
    python -m studies.host_latency --tiny           # nano presets, seq 64
    python -m studies.host_latency MODEL.tflite... [--threads 1,2]
"""

from __future__ import annotations

import argparse

from studies._common import model_args, resolve_models

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
