"""Export benchmark: size and host latency of MobileBERT / BERT-base files per precision.

    python -m benchmarks.suite.export_latency [--out DIR] [--seq-len 128] [--threads 1,2] [--runs 30]

Builds random-weight classifiers (latency does not depend on the weights) for `mobilebert`
(OPT), `mobilebert-no-opt` and `bert-base`, exports them through `converters.convert()`
(verified, named signature, clipped mask), then measures every file in ONE interleaved
LiteRT run per thread count and prints ratios side by side:
  - size and latency of mobilebert none/dynamic/int8/float16 and bert-base none/dynamic;
  - int8 vs dynamic: XNNPACK partitions, which int8-graph ops stay float, and the
    `int8-fa` variant (attention matmuls, softmax and mask add kept float);
  - OPT vs no-OPT at the same precision.
Files are cached in --out, so a second run only measures. Absolute times vary a lot between
machines; quote the ratios.
"""

from __future__ import annotations

import argparse
import collections
import os
from pathlib import Path

# (preset, file mode label, converter mode, int8 float attention)
VARIANTS = (
    ("mobilebert", "none", "none", False),
    ("mobilebert", "dynamic", "dynamic", False),
    ("mobilebert", "int8", "int8", False),
    ("mobilebert", "int8-fa", "int8", True),
    ("mobilebert", "float16", "float16", False),
    ("mobilebert-no-opt", "none", "none", False),
    ("mobilebert-no-opt", "dynamic", "dynamic", False),
    ("bert-base", "none", "none", False),
    ("bert-base", "dynamic", "dynamic", False),
)


def build_files(out: Path, seq_len: int, representative: int, only: set[str] | None) -> list[tuple[str, str, Path]]:
    """Exports each variant once (cached by file name); returns (preset, label, path)."""
    import tensorflow as tf  # noqa: PLC0415

    from converters import data as data_mod  # noqa: PLC0415
    from converters.converter import ExportOptions, convert, write_files  # noqa: PLC0415
    from converters.restore import build_stage_model  # noqa: PLC0415
    from mbert_cli.config import resolve_config  # noqa: PLC0415

    files = []
    models: dict[str, object] = {}
    for preset, label, mode, fa in VARIANTS:
        if only and preset not in only:
            continue
        path = out / f"{preset}_{label}_seq{seq_len}.tflite"
        files.append((preset, label, path))
        if path.is_file():
            continue
        cfg = resolve_config(preset)
        if preset not in models:
            tf.keras.utils.set_random_seed(0)
            models[preset] = build_stage_model(cfg, "finetune-classification")[1]
        data = data_mod.synthetic(seq_len, cfg.encoder.vocab_size, representative, 2)
        opts = ExportOptions(modes=(mode,), seq_len=seq_len, representative=representative, force=True,
                             int8_float_attention=fa, require_opt_graph=cfg.encoder.is_opt)
        (f,) = convert(models[preset], model_name=f"{preset}", options=opts, data=data,
                       progress=lambda m, p=preset: print(f"  [{p}] {m}", flush=True))
        f.file = path.name
        write_files(out, [f], {"benchmark": "export_latency"}, entry_extra={"preset": preset, "variant": label})
    return files


def float_ops(path: Path) -> dict[str, int]:
    """Ops of a file whose output is float32 (what int8 did not quantize), by op name."""
    import numpy as np  # noqa: PLC0415

    from mbert_cli.runtime import load_runtime  # noqa: PLC0415

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
    parser.add_argument("--out", default="/tmp/mbert-export-bench")
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

    from benchmarks.host import HostSettings, run_host  # noqa: PLC0415
    from converters.verify import op_histogram  # noqa: PLC0415

    by = {(p, label): path for p, label, path in files}
    print("\n== ops (int8 vs dynamic) ==")
    for key in (("mobilebert", "dynamic"), ("mobilebert", "int8"), ("mobilebert", "int8-fa")):
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
        print(f"{'preset':18s} {'mode':8s} {'MB':>7s} {'p50 ms':>8s} {'p90 ms':>8s} {'vs mb float':>11s} "
              f"{'xnnpack':>16s}")
        base = results[0].inference.p50_ms
        for (preset, label, _), r in zip(files, results, strict=True):
            cov = r.coverage
            cover = f"{cov.delegated_nodes}/{cov.total_nodes} in {cov.partitions}p" if cov.total_nodes else "-"
            lat[(threads, preset, label)] = r.inference.p50_ms
            print(f"{preset:18s} {label:8s} {r.model.size_mb:7.2f} {r.inference.p50_ms:8.2f} "
                  f"{r.inference.p90_ms:8.2f} {r.inference.p50_ms / base:10.2f}x {cover:>16s}")
        pairs = [("int8 / dynamic", ("mobilebert", "int8"), ("mobilebert", "dynamic")),
                 ("int8-fa / dynamic", ("mobilebert", "int8-fa"), ("mobilebert", "dynamic")),
                 ("no-OPT / OPT float", ("mobilebert-no-opt", "none"), ("mobilebert", "none")),
                 ("no-OPT / OPT dynamic", ("mobilebert-no-opt", "dynamic"), ("mobilebert", "dynamic")),
                 ("bert-base / mobilebert float", ("bert-base", "none"), ("mobilebert", "none")),
                 ("bert-base / mobilebert dynamic", ("bert-base", "dynamic"), ("mobilebert", "dynamic"))]
        for name, a, b in pairs:
            if (threads, *a) in lat and (threads, *b) in lat:
                print(f"  {name:32s} {lat[(threads, *a)] / lat[(threads, *b)]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
