"""App-ready files against MediaPipe Tasks: agreement, accuracy, end-to-end latency, metadata size.

    python -m benchmarks.app_ready --run runs/demo            # every app-ready classifier in RUN/export
    python -m benchmarks.app_ready --run runs/demo --limit 200 --json out.json

For every app-ready classifier file listed in the run's export manifest, over the whole
validation split of the run's task data (or `--limit` sentences):
  - agreement: MediaPipe `TextClassifier` top-1 on the raw sentence vs mbert's own evaluation
    of the same file (mbert's tokenizer, LiteRT, the file's signature at the file's length, or
    at the sentence's own length for a dynamic file), and both accuracies against the labels;
    every disagreement is printed with both tokenizations;
  - latency, one request at a time, in one process and interleaved: `TextClassifier.classify`
    end to end (tokenize + infer + post-process) against the model alone (LiteRT, 1 thread,
    `invoke` on the same request's tokenized row), p50 of each and their ratio;
  - the metadata's size (metadata flatbuffer + packed vocab and labels).
A fixed-length file pads every request to its length, a dynamic one runs each at its own:
run the benchmark on a `--seq-len 128` and a `--seq-len dynamic` export of the same run to
compare them at the task's lengths. Absolute times move with the machine and its load:
quote ratios from one run, beside the CPU flags printed in the header.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from mediapipe.tasks.python.core import base_options
from mediapipe.tasks.python.text import text_classifier

from converters import app_metadata
from converters.signatures import cast_rows
from mbert_cli.config import load_run_config
from mbert_cli.data.classification import load_classification
from mbert_cli.data.encoding import encode_pairs
from mbert_cli.data.task_sets import task_tokenizer
from mbert_cli.runtime import load_runtime


def _cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    model = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), "?")
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if ln.startswith("flags")), [])
    simd = [f for f in flags if f.startswith(("avx", "fma", "sse4", "amx")) or f in ("f16c", "vnni")]
    return f"{model}; {' '.join(sorted(simd))}"


def _classifier(path: Path):
    opts = text_classifier.TextClassifierOptions(base_options=base_options.BaseOptions(model_asset_path=str(path)),
                                                 max_results=-1)
    return text_classifier.TextClassifier.create_from_options(opts)


def measure_file(path: Path, texts: list[str], labels: np.ndarray, tok, *, repeats: int = 1) -> dict:
    """All figures for one app-ready classifier file."""
    content = path.read_bytes()
    info = app_metadata.read(content)
    interp = load_runtime().interpreter(model_content=content, num_threads=1)
    runner = interp.get_signature_runner("serving_default")
    shape = runner.get_input_details()["input_word_ids"]["shape_signature"]
    fixed = int(shape[-1]) if int(shape[-1]) > 0 else None
    clf = _classifier(path)
    index = {name: i for i, name in enumerate(info.labels)}
    ids = tok.tokenize(texts)
    mp_top, mb_top, e2e, model_only = [], [], [], []
    try:
        for text, pieces in zip(texts, ids, strict=True):
            n = fixed or min(len(pieces) + 2, 512)
            row = cast_rows(encode_pairs(tok, [text], None, n), "app")
            row = {k: np.ascontiguousarray(v) for k, v in row.items()}
            for _ in range(repeats):
                start = time.perf_counter()
                res = clf.classify(text)
                e2e.append(time.perf_counter() - start)
                start = time.perf_counter()
                out = runner(**row)
                model_only.append(time.perf_counter() - start)
            top = res.classifications[0].categories[0].category_name
            mp_top.append(index[top])
            mb_top.append(int(np.argmax(out["probabilities"][0])))
    finally:
        clf.close()
    mp_top, mb_top = np.asarray(mp_top), np.asarray(mb_top)
    disagree = [i for i in range(len(texts)) if mp_top[i] != mb_top[i]]
    for i in disagree:
        print(f"  DISAGREE {texts[i]!r}: MediaPipe {info.labels[mp_top[i]]}, mbert {info.labels[mb_top[i]]}; "
              f"mbert tokens {tok.ids_to_tokens(ids[i])}", file=sys.stderr)
    p50_e2e, p50_model = float(np.median(e2e)) * 1e3, float(np.median(model_only)) * 1e3
    return {"file": path.name, "length": fixed or "dynamic", "sentences": len(texts),
            "agreement": float(np.mean(mp_top == mb_top)), "disagreements": len(disagree),
            "accuracy_mediapipe": 100.0 * float(np.mean(mp_top == labels)),
            "accuracy_mbert": 100.0 * float(np.mean(mb_top == labels)),
            "p50_end_to_end_ms": p50_e2e, "p50_model_only_ms": p50_model, "ratio": p50_e2e / p50_model,
            "metadata_bytes": info.bytes_added, "file_bytes": len(content)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, type=Path, help="run folder with a finetune-classification export")
    ap.add_argument("--export", type=Path, default=None, help="export folder (default RUN/export)")
    ap.add_argument("--limit", type=int, default=0, help="first N validation sentences (default: all)")
    ap.add_argument("--repeats", type=int, default=1, help="timed requests per sentence")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)

    cfg = load_run_config(args.run / "config.yaml")
    _train, dev, _names = load_classification(cfg.data.task_data)
    dev = dev[:args.limit] if args.limit else dev
    texts, labels = [e.text_a for e in dev], np.asarray([e.label for e in dev])
    tok = task_tokenizer(cfg)
    folder = args.export or args.run / "export"
    manifest = json.loads((folder / "manifest.json").read_text())
    files = [folder / e["file"] for e in manifest["files"]
             if (e.get("app_metadata") or {}).get("kind") == "classifier"]
    if not files:
        print(f"no app-ready classifier in {folder}/manifest.json: export with `mbert export --run {args.run}`")
        return 1
    print(f"CPU: {_cpu_flags()}\n{len(texts)} validation sentences of {cfg.data.task_data}")
    rows = []
    for path in files:
        row = measure_file(path, texts, labels, tok, repeats=args.repeats)
        rows.append(row)
        print(f"{row['file']}: agreement {100 * row['agreement']:.2f}% ({row['disagreements']} differ), accuracy "
              f"MediaPipe {row['accuracy_mediapipe']:.2f} / mbert {row['accuracy_mbert']:.2f}; p50 end-to-end "
              f"{row['p50_end_to_end_ms']:.2f} ms vs model-only {row['p50_model_only_ms']:.2f} ms "
              f"({row['ratio']:.2f}x); metadata {row['metadata_bytes'] / 1e3:.1f} kB")
    if args.json:
        args.json.write_text(json.dumps({"cpu": _cpu_flags(), "files": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
