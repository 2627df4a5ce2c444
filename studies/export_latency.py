"""Size and host latency of MobileBERT / BERT-base files per precision, and OPT vs no-OPT.

    python -m studies.export_latency [--out DIR] [--seq-len 128] [--threads 1,2] [--runs 30]
"""

from __future__ import annotations

import argparse
import collections
import os
from pathlib import Path

from studies._models import DEFAULT_CACHE, Variant, build_variants

# Labels: float32 (converter mode none), dynamic, int8 (the default export: attention matmuls,
# softmax and mask add kept float), int8-full (`--int8-full`: all-int8 graph), float16.
VARIANTS = (
    Variant("mobilebert", "none"),
    Variant("mobilebert", "dynamic"),
    Variant("mobilebert", "int8", int8_float_attention=False),
    Variant("mobilebert", "int8"),
    Variant("mobilebert", "float16"),
    Variant("mobilebert-no-opt", "none"),
    Variant("mobilebert-no-opt", "dynamic"),
    Variant("bert-base", "none"),
    Variant("bert-base", "dynamic"),
)


def build_files(out: Path, seq_len: int, representative: int, only: set[str] | None) -> list[tuple[str, str, Path]]:
    """Exports each variant once (cached, see `_models.build_variants`); returns (preset, label, path)."""
    chosen = [v for v in VARIANTS if not only or v.preset in only]
    built = build_variants(chosen, out, seq_len=seq_len, representative=representative,
                           header={"benchmark": "export_latency"})
    return [(b.variant.preset, b.variant.label, b.path) for b in built]


def float_ops(path: Path) -> dict[str, int]:
    """Ops of a file whose output is float32 (what int8 did not quantize), by op name."""
    import numpy as np

    from mbert_cli.runtime import load_runtime

    interp = load_runtime().interpreter(str(path), xnnpack=False)
    interp.allocate_tensors()
    dtypes = {t["index"]: np.dtype(t["dtype"]) for t in interp.get_tensor_details()}
    hist: collections.Counter = collections.Counter()
    for op in interp._get_ops_details():  # noqa: SLF001 - the only per-node view LiteRT offers
        outs = [int(t) for t in op["outputs"] if int(t) >= 0]
        if outs and dtypes.get(outs[0]) == np.float32:
            hist[op["op_name"]] += 1
    return dict(sorted(hist.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(DEFAULT_CACHE), help="model cache folder (shared with the suite)")
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--representative", type=int, default=8)
    parser.add_argument("--only", default="", help="comma-separated presets to include (default all)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = build_files(out, args.seq_len, args.representative, set(filter(None, args.only.split(","))) or None)

    from benchmarks.host import HostSettings, run_host
    from converters.verify import op_histogram

    by = {(p, label): path for p, label, path in files}
    print("\n== ops (int8 vs dynamic) ==")
    for key in (("mobilebert", "dynamic"), ("mobilebert", "int8"), ("mobilebert", "int8-full")):
        if key in by:
            hist = op_histogram(by[key].read_bytes())
            print(f"{key[1]:8s} ops: {hist}")
            print(f"{key[1]:8s} float-output ops: {float_ops(by[key])}")

    lat: dict[tuple[int, str, str], float] = {}
    for threads in (int(t) for t in args.threads.split(",")):
        results = run_host([str(p) for _, _, p in files], HostSettings(threads=threads, runs=args.runs,
                                                                          warmup=args.warmup))
        env = results[0].environment
        print(f"\n== threads={threads} runs={results[0].inference.count} {env.runtime_name} {env.runtime_version} "
              f"cpu={env.cpu_model} x{env.cores} ==")
        print(f"{'preset':18s} {'mode':9s} {'MB':>7s} {'p50 ms':>8s} {'p90 ms':>8s} {'vs mb float':>11s} "
              f"{'xnnpack':>16s}")
        base = results[0].inference.p50_ms
        for (preset, label, _), r in zip(files, results, strict=True):
            cov = r.coverage
            cover = f"{cov.delegated_nodes}/{cov.total_nodes} in {cov.partitions}p" if cov.total_nodes else "-"
            lat[(threads, preset, label)] = r.inference.p50_ms
            print(f"{preset:18s} {label:9s} {r.model.size_mb:7.2f} {r.inference.p50_ms:8.2f} "
                  f"{r.inference.p90_ms:8.2f} {r.inference.p50_ms / base:10.2f}x {cover:>16s}")
        pairs = [("int8 / dynamic", ("mobilebert", "int8"), ("mobilebert", "dynamic")),
                 ("int8-full / dynamic", ("mobilebert", "int8-full"), ("mobilebert", "dynamic")),
                 ("no-OPT / OPT float", ("mobilebert-no-opt", "float32"), ("mobilebert", "float32")),
                 ("no-OPT / OPT dynamic", ("mobilebert-no-opt", "dynamic"), ("mobilebert", "dynamic")),
                 ("bert-base / mobilebert float", ("bert-base", "float32"), ("mobilebert", "float32")),
                 ("bert-base / mobilebert dynamic", ("bert-base", "dynamic"), ("mobilebert", "dynamic"))]
        for name, a, b in pairs:
            if (threads, *a) in lat and (threads, *b) in lat:
                print(f"  {name:32s} {lat[(threads, *a)] / lat[(threads, *b)]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
