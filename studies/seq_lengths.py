"""Latency at several sequence lengths: fixed, multi-signature and dynamic exports side by side.

    python -m studies.seq_lengths                      # nano-student, float32, 32,64,128
    python -m studies.seq_lengths --preset mobilebert --modes none,int8 --lengths 32,128 \\
        --designs multi --fixed longest                # the paper model

Why `mbert export --seq-len 32,64,128` writes one signature per length. Files are cached in
--out: use a new one after a converter change (a cached file is not re-exported).
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from studies._models import DEFAULT_CACHE

DESIGNS = ("fixed", "multi", "dynamic")


def cpu_flags() -> str:
    """The CPU model and the vector extensions that decide int8/float speed (AVX2, AVX-512, VNNI)."""
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")
    return f"{model}; {' '.join(f for f in wanted if f in flags) or 'no AVX2'}; {os.cpu_count()} logical CPUs"


def build(preset: str, modes: list[str], lengths: tuple[int, ...], designs: list[str], fixed: str,
          out: Path, seed: int = 0) -> list[dict]:
    """Exports the files that are not cached yet; returns [{design, mode, path, lengths}]."""
    from converters.lengths import LengthSpec

    plan = []
    for mode in modes:
        if "fixed" in designs:
            for n in (lengths if fixed == "all" else lengths[-1:]):
                plan.append({"design": "fixed", "mode": mode, "spec": LengthSpec((n,)), "lengths": (n,)})
        if "multi" in designs:
            plan.append({"design": "multi", "mode": mode, "spec": LengthSpec(lengths), "lengths": lengths})
        if "dynamic" in designs:
            plan.append({"design": "dynamic", "mode": mode, "spec": LengthSpec((lengths[-1],), dynamic=True),
                         "lengths": lengths})
    for p in plan:
        p["path"] = out / f"{preset}__{p['mode']}__{p['design']}-{p['spec'].file_tag()}.tflite"
    missing = [p for p in plan if not p["path"].is_file()]
    if missing:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        from converters import ExportOptions, convert
        from converters import data as data_mod
        from converters.converter import write_files
        from converters.export_model import build_export_model as build_stage_model
        from mbert_cli.config import resolve_config

        cfg = resolve_config(preset)
        tf.keras.utils.set_random_seed(seed)
        model = build_stage_model(cfg, "finetune-classification")[1]
        data = data_mod.synthetic(lengths[-1], cfg.encoder.vocab_size, 8, 2, seed=seed)
        for p in missing:
            print(f"converting {p['path'].name} (random weights; cached)", flush=True)
            spec = p["spec"]
            opts = ExportOptions(modes=(p["mode"],), seq_len=spec.max_len, lengths=spec, representative=8,
                                 force=True, require_opt_graph=cfg.encoder.is_opt)
            (f,) = convert(model, model_name=preset, options=opts, data=data,
                           progress=lambda m: print(f"  {m}", flush=True))
            f.file = p["path"].name
            write_files(out, [f], {"benchmark": "seq_lengths"}, entry_extra={"design": p["design"]})
    return plan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="nano-student")
    parser.add_argument("--modes", default="none", help="converter modes, comma-separated (none = float32)")
    parser.add_argument("--lengths", default="32,64,128")
    parser.add_argument("--designs", default=",".join(DESIGNS), help=f"any of {', '.join(DESIGNS)}")
    parser.add_argument("--fixed", choices=("all", "longest"), default="all",
                        help="fixed design: one file per length, or only the longest (size baseline)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--crosscheck-rounds", type=int, default=3, help="0 skips the LiteRT-tool comparison")
    parser.add_argument("--out", default=str(DEFAULT_CACHE / "seq-lengths"))
    args = parser.parse_args(argv)

    from converters.lengths import parse_lengths

    lengths = parse_lengths(args.lengths).lengths
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"CPU: {cpu_flags()}")
    plan = build(args.preset, modes, lengths, designs, args.fixed, out)

    from benchmarks.host import HostSettings, run_host

    results = run_host([str(p["path"]) for p in plan],
                       HostSettings(threads=args.threads, runs=args.runs, warmup=args.warmup),
                       lengths_per_model=[p["lengths"] for p in plan])
    by = {(r.model.path, r.requested_seq_len): r for r in results}
    label = {"none": "float32"}
    print(f"\n{args.preset}, random weights, {args.threads} thread(s), {args.runs} runs, p50 in ms")
    print("\nsizes:")
    for mode in modes:
        rows = [p for p in plan if p["mode"] == mode]
        single = next((p for p in rows if p["design"] == "fixed" and p["lengths"][-1] == lengths[-1]), None)
        base = single["path"].stat().st_size if single else None
        for p in rows:
            size = p["path"].stat().st_size
            vs = f"{size / base:.3f}x of the single-length seq{lengths[-1]} file" if base else ""
            print(f"  {label.get(mode, mode):8s} {p['design']:8s} {p['spec'].file_tag():>12s} "
                  f"{size / 1e6:9.2f} MB  {vs}")
    print("\nlatency per length (p50 ms; xL = of the same design at the longest length; XNNPACK delegated/total "
          "nodes, partitions):")
    for mode in modes:
        rows = [p for p in plan if p["mode"] == mode]
        print(f"  {label.get(mode, mode)}")
        for n in lengths:
            cells = []
            for p in rows:
                r = by.get((str(p["path"]), n))
                if r is None:
                    continue
                top = by.get((str(p["path"]), lengths[-1]))
                ratio = f"{r.inference.p50_ms / top.inference.p50_ms:.2f}xL" if top else ""
                c = r.coverage
                cells.append(f"{p['design']}{'' if p['design'] != 'fixed' else n} {r.inference.p50_ms:8.3f} {ratio:>7s}"
                             f" [{c.delegated_nodes}/{c.total_nodes}, {c.partitions}p]")
            print(f"    seq {n:4d}: " + " | ".join(cells))
        fixed = {p["lengths"][0]: by[(str(p["path"]), p["lengths"][0])] for p in rows if p["design"] == "fixed"}
        for p in rows:
            if p["design"] == "fixed":
                continue
            same = [by[(str(p["path"]), n)].inference.p50_ms / fixed[n].inference.p50_ms
                    for n in lengths if n in fixed]
            if same:
                print(f"    {p['design']} / fixed at the same length: "
                      + ", ".join(f"{x:.2f}x" for x in same))
    if args.crosscheck_rounds > 0:
        crosscheck(plan, lengths, args)
    return 0


def crosscheck(plan: list[dict], lengths: tuple[int, ...], args) -> None:
    """Host runner p50 vs LiteRT's own tool at the same signature (fixed-shape signatures only:
    the tool runs a signature as stored, it cannot resize)."""
    from benchmarks.host import HostSettings, run_host
    from converters.lengths import signature_key
    from studies._litert_tool import litert_tool_latency

    print("\nhost runner vs LiteRT's benchmark tool, same file and signature "
          f"(median of {args.crosscheck_rounds} alternating rounds; target within 5%):")
    for p in plan:
        if p["design"] != "multi":
            continue
        for n in lengths:
            ours, theirs = [], []
            for _ in range(args.crosscheck_rounds):
                (r,) = run_host([str(p["path"])], HostSettings(threads=args.threads, runs=args.runs,
                                                               warmup=args.warmup, seq_lens=(n,)))
                ours.append(r.inference.p50_ms)
                theirs.append(litert_tool_latency(str(p["path"]), args.threads, args.runs, args.warmup,
                                                  signature=signature_key(n))["median_ms"])
            a, b = statistics.median(ours), statistics.median(theirs)
            verdict = "agree" if abs(a / b - 1) <= 0.05 else "DIFFER (> 5%)"
            print(f"  {p['path'].name:44s} {signature_key(n):>7s}  mbert {a:8.3f}  litert {b:8.3f}  "
                  f"{a / b:.3f}x  {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
