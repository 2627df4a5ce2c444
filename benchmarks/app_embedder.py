"""The shipped all-MiniLM-L6-v2 as an app-ready sentence embedder: MediaPipe's TextEmbedder vs numpy.

    python -m benchmarks.app_embedder                       # import, export float32 + dynamic range, 200 sentences
    python -m benchmarks.app_embedder --sentences 50 --work /tmp/emb

Imports the shipped model (`mbert import minilm`), exports it app-ready (`--from teacher
--seq-len dynamic`, float32 and dynamic range), embeds the first N validation sentences of the
shipped task with MediaPipe Tasks' `TextEmbedder` (the file alone: its vocab, its graph) and
compares each with an independent numpy BERT forward on the published safetensors weights
(`tests/importing/numpy_reference.py`), mean-pooled and L2-normalised as the model's
sentence-transformers config says. Prints min/mean cosine per file and the time per sentence
(one process; quote ratios, not absolute times).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from mbert_cli.data.classification import load_classification
from tests.converters.mediapipe_helpers import embedder
from tests.converters.test_app_embedder import reference_embeddings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=200)
    ap.add_argument("--work", type=Path, default=None, help="folder for the run and files (default: a temporary one)")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="mbert-embedder-"))
    run, out = work / "minilm", work / "export"
    cli = CliRunner()
    if not (run / "config.yaml").is_file():
        res = cli.invoke(app, ["import", "minilm", "--run", str(run)])
        if res.exit_code:
            print(res.output)
            return 1
    if not (out / "manifest.json").is_file():
        res = cli.invoke(app, ["export", "--run", str(run), "--from", "teacher", "--quantize", "none", "dynamic",
                               "--seq-len", "dynamic", "--out", str(out)])
        if res.exit_code:
            print(res.output)
            return 1
    _train, dev, _ = load_classification("shipped")
    texts = [e.text_a for e in dev[:args.sentences]]
    start = time.perf_counter()
    want = reference_embeddings(run, texts)
    numpy_s = time.perf_counter() - start
    rows = []
    for mode in ("none", "dynamic"):
        path = out / f"teacher_{mode}_seqdyn.tflite"
        emb = embedder(path)
        start = time.perf_counter()
        got = np.asarray([emb.embed(t).embeddings[0].embedding for t in texts], np.float64)
        per = (time.perf_counter() - start) / len(texts)
        emb.close()
        cos = (got * want).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(want, axis=-1)
        rows.append({"file": path.name, "mode": mode, "sentences": len(texts), "cosine_min": float(cos.min()),
                     "cosine_mean": float(cos.mean()), "ms_per_sentence": 1e3 * per,
                     "file_mb": path.stat().st_size / 1e6})
        print(f"{path.name}: cosine vs numpy min {cos.min():.5f} mean {cos.mean():.5f} over {len(texts)} sentences; "
              f"TextEmbedder {1e3 * per:.1f} ms/sentence; {path.stat().st_size / 1e6:.1f} MB")
    print(f"numpy reference: {1e3 * numpy_s / len(texts):.1f} ms/sentence")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
