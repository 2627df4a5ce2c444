"""int8 for a BERT-kind model: float32, dynamic range, the converter's int8 and the mixed-precision search's file.

    python -m benchmarks.int8_search --run DEMO_DIR [--stage finetune-classification] [--seq-len 64]
        [--budget 300] [--metric-examples N] [--max-drop 1.0] [--out DIR] [--runs 30]

`--run` is a finished demo folder (its MiniLM teacher, DEMO_DIR/teacher, is exported) or any run
folder. The export runs as `mbert export --quantize none dynamic int8 --explain` does, except that
a failing int8 file triggers the search instead of ending the export. Printed: the per-layer
table, the search trace (every candidate: recipe, accuracy, p50, size), then one row per file
(mode, accuracy, host p50 at 1 thread, size), all timed side by side in this process; the
converter's failing int8 file is rebuilt (--force) so it is timed beside the others.
Timings on a shared machine are noisy: compare ratios within one run only.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from mbert_cli.cli.common import quiet_tensorflow
from mbert_cli.runtime import load_runtime


def _run_dir(path: Path) -> Path:
    if (path / "config.yaml").is_file():
        return path
    if (path / "teacher" / "config.yaml").is_file():
        return path / "teacher"
    raise SystemExit(f"{path} is neither a run folder nor a demo folder with teacher/config.yaml")


def _p50(file: Path, runs: int) -> float:
    """Host p50 (ms), 1 thread, first signature, inputs of ones in the file's shapes: timed as the
    export's search times its candidates."""
    from converters.mixed_precision import host_p50_ms  # noqa: PLC0415 - after quiet_tensorflow() in main

    content = file.read_bytes()
    interp = load_runtime().interpreter(model_content=content)
    key = next(iter(interp.get_signature_list()))
    inputs = interp.get_signature_runner(key).get_input_details()
    row = {name: np.ones(d["shape"], dtype=d["dtype"]) for name, d in inputs.items()}
    return host_p50_ms(content, key, row, runs=runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, type=Path)
    parser.add_argument("--stage", default="finetune-classification")
    parser.add_argument("--seq-len", default="64")
    parser.add_argument("--budget", default="300", help="search budget: seconds (300) or candidates (8c)")
    parser.add_argument("--metric-examples", type=int, default=None)
    parser.add_argument("--max-drop", type=float, default=None, help="gate in points (default: the run's, 1.0)")
    parser.add_argument("--out", type=Path, default=Path("int8_search"))
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    quiet_tensorflow()  # before TensorFlow loads
    from converters import export_run  # noqa: PLC0415 - TensorFlow loads after argument parsing

    run = _run_dir(args.run)
    settings = {"modes": ["none", "dynamic", "int8"], "seq_len": args.seq_len, "explain": True,
                "search_budget": args.budget, "max_drop": args.max_drop}
    from mbert_cli.errors import MbertError  # noqa: PLC0415 - beside export_run

    started = time.monotonic()
    try:
        report = export_run(run, stage=args.stage, settings=settings, out_dir=args.out / "export",
                            metric_examples=args.metric_examples, progress=lambda m: print(m, flush=True))
    except MbertError as err:  # the search found nothing: its trace and table are printed above
        raise SystemExit(f"error: {err}") from None
    export_s = time.monotonic() - started
    files = {f.mode: f for f in report.files}
    int8 = files.get("int8")
    mp = int8.mixed_precision if int8 else None
    reference = None
    if mp:
        # The converter's failing full-int8 file, rebuilt with --force beside the others for timing.
        forced = export_run(run, stage=args.stage, settings={**settings, "modes": ["int8"], "explain": False,
                                                              "force": True},
                            out_dir=args.out / "converter_int8", metric_examples=args.metric_examples)
        reference = forced.files[0]
        print("\nsearch trace (litert-quantizer, base: int8 with float attention):")
        for c in mp["candidates"]:
            recipe = ", ".join(f"{o['group']}={o['precision']}" for o in c["recipe"]) or "full int8"
            acc = c["metric"]["tflite"] if c["metric"] else float("nan")
            print(f"  {c['name']:<16} {'PASS' if c['passes'] else 'fail'}  acc {acc:6.2f}  p50 {c['p50_ms']:7.2f} ms  "
                  f"{c['size_bytes'] / 1e6:6.1f} MB  {c['build_s']:5.1f} s  [{recipe}]")
        print(f"  kept {mp['chosen']} after {mp['search_s']} s")
    rows = []
    entries = [("float32", files.get("none"), report.out_dir), ("dynamic", files.get("dynamic"), report.out_dir),
               ("int8 (converter, fails)" if reference else "int8", reference or int8,
                args.out / "converter_int8" if reference else report.out_dir)]
    if mp:
        entries.append((f"int8-mixed ({mp['chosen']})", int8, report.out_dir))
    for label, f, folder in entries:
        if f is None:
            continue
        metric = f.task_metric or {}
        rows.append({"mode": label, "accuracy": metric.get("tflite"), "tf_accuracy": metric.get("tensorflow"),
                     "p50_ms": round(_p50(folder / f.file, args.runs), 2), "size_mb": round(f.size_bytes / 1e6, 1)})
    base = next((r["p50_ms"] for r in rows if r["mode"] == "float32"), None)
    print(f"\n{'mode':<34} {'accuracy':>8} {'p50 ms':>8} {'x f32':>6} {'MB':>6}")
    for r in rows:
        ratio = f"{r['p50_ms'] / base:.2f}" if base else "-"
        acc = f"{r['accuracy']:.2f}" if r["accuracy"] is not None else "-"
        print(f"{r['mode']:<34} {acc:>8} {r['p50_ms']:>8.2f} {ratio:>6} {r['size_mb']:>6.1f}")
    print(f"export (with search) {export_s:.0f} s")
    (args.out / "int8_search.json").write_text(json.dumps({"rows": rows, "search": mp, "export_s": export_s},
                                                          indent=1) + "\n")


if __name__ == "__main__":
    main()
