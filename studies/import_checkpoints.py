"""Import time and peak memory: the shipped MiniLM and a `mobilebert`-preset-sized synthetic HF checkpoint.

    python -m studies.import_checkpoints [--out runs/bench-import] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
mode, source, run = sys.argv[1:4]
t = time.time()
if mode == "import":
    from mbert_cli.importing.importer import import_checkpoint
    report = import_checkpoint(source, run, say=lambda *_: None)
    extra = {"tensors": len(report["mapped"]), "parameters": report["parameters_mapped"]}
else:  # baseline: TensorFlow + the same model built, nothing read or written
    from mbert_cli.importing import sources
    from mbert_cli.modeling.pretrainer import build_pretrainer
    from mbert_cli.importing import configs
    src = sources.locate(source)
    cfg = configs.read_json(src.config)
    arch = configs.architecture(cfg, "config.json")
    enc = (configs.bert_encoder_config(cfg, "config.json", True) if arch == "bert"
           else configs.mobilebert_encoder_config(cfg, "config.json"))
    build_pretrainer(enc)
    extra = {}
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork+exec.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": round(time.time() - t, 2), "peak_rss_mb": round(hwm / 1024, 1), **extra}))
"""


def _child(mode: str, source: str, run: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", CHILD, mode, source, str(run)], capture_output=True, text=True,
                         env=env, check=False)
    if out.returncode:
        raise SystemExit(f"{mode} {source} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def synthetic_mobilebert(folder: Path) -> Path:
    """A random `mobilebert` preset run exported to the HF layout (cached in `folder`)."""
    hf = folder / "mobilebert-hf"
    if (hf / "model.safetensors").is_file():
        return hf
    import tensorflow as tf

    from mbert_cli.config import get_preset, save_run_config
    from mbert_cli.importing.export_hf import export_hf
    from mbert_cli.modeling.pretrainer import build_pretrainer
    from mbert_cli.training.run_dir import StageDir

    run = folder / "mobilebert-random"
    cfg = get_preset("mobilebert").run_config()
    pm = build_pretrainer(cfg.encoder)
    stage = StageDir(run, "student").make()
    tf.train.CheckpointManager(tf.train.Checkpoint(model=pm.model, step=tf.Variable(0, dtype=tf.int64)),
                               str(stage.checkpoints), 1).save()
    save_run_config(cfg, run / "config.yaml")
    export_hf(run, hf)
    return hf


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/bench-import")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sources = {"all-MiniLM-L6-v2 (minilm)": "minilm", "mobilebert (synthetic HF)": str(synthetic_mobilebert(out))}
    rows = {}
    for label, source in sources.items():
        runs, base = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(dir=out) as tmp:
                runs.append(_child("import", source, Path(tmp) / "run"))
                base.append(_child("baseline", source, Path(tmp) / "unused"))
        rows[label] = {"tensors": runs[0]["tensors"], "parameters": runs[0]["parameters"],
                       "import_seconds": statistics.median(r["seconds"] for r in runs),
                       "baseline_seconds": statistics.median(r["seconds"] for r in base),
                       "import_peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                       "baseline_peak_rss_mb": max(r["peak_rss_mb"] for r in base)}
    print(f"{'checkpoint':30} {'params':>12} {'import s':>9} {'build-only s':>13} {'peak MB':>8} {'build-only MB':>14}")
    for label, r in rows.items():
        print(f"{label:30} {r['parameters']:>12,} {r['import_seconds']:>9.1f} {r['baseline_seconds']:>13.1f} "
              f"{r['import_peak_rss_mb']:>8.0f} {r['baseline_peak_rss_mb']:>14.0f}")
    result = {"repeats": args.repeats, "cpu_count": os.cpu_count(), "rows": rows}
    (out / "import_checkpoints.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
