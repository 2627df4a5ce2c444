"""SQuAD span models: the export measures dev F1 of the TFLite file against the TensorFlow model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_helpers import make_run

SEQ = 64
QUESTIONS = 12
OVERRIDES = ("data.task_data=shipped", "finetune.max_examples=40", "finetune.max_query_length=16",
             f"data.seq_len={SEQ}")


@pytest.fixture(scope="module")
def squad_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "q"
    cfg, model = make_run(run, stage="finetune-squad", overrides=OVERRIDES)
    return run, cfg, model


@pytest.fixture(scope="module")
def exported(squad_run):
    from converters import ExportOptions, export_run

    run, _, _ = squad_run
    return export_run(run, stage="finetune-squad", metric_examples=QUESTIONS,
                      options=ExportOptions(modes=("none", "dynamic"), seq_len=SEQ, representative=16))


def test_manifest_holds_f1_for_every_file(squad_run, exported):
    run, _, _ = squad_run
    manifest = json.loads((run / "export" / "manifest.json").read_text())
    assert manifest["data"]["metric"] == "f1" and f"{QUESTIONS} questions" in manifest["data"]["source"]
    for entry in manifest["files"]:
        metric = entry["task_metric"]
        assert metric["name"] == "f1" and 0.0 <= metric["tflite"] <= 100.0
        assert metric["drop"] == pytest.approx(metric["tensorflow"] - metric["tflite"])
    float_entry = next(e for e in manifest["files"] if e["mode"] == "none")
    # Float TFLite reproduces TF's logits to ~1e-6, so the answers and F1 are the same.
    assert float_entry["task_metric"]["tflite"] == pytest.approx(float_entry["task_metric"]["tensorflow"])


def test_tensorflow_f1_equals_the_fine_tunes_own_evaluator(squad_run, exported):
    """The export's TF figure is what `mbert eval --task squad` computes on the same questions."""
    from mbert_cli.data.squad import squad_features
    from mbert_cli.data.task_sets import load_squad_splits, task_tokenizer
    from mbert_cli.training.evaluate import squad_scores

    run, cfg, model = squad_run
    _, dev = load_squad_splits(cfg, None, run)
    dev = dev[:QUESTIONS]
    features = squad_features(dev, task_tokenizer(cfg), SEQ, cfg.finetune.doc_stride, cfg.finetune.max_query_length)
    reference = squad_scores(model, dev, features)["f1"]
    exported_f1 = next(f for f in exported.files if f.mode == "none").task_metric["tensorflow"]
    assert exported_f1 == pytest.approx(reference, abs=1e-6)


def test_f1_metric_scores_gold_spans_high_and_noise_low(squad_run):
    """The metric function itself: logits peaked on the gold span score near 100, noise does not."""
    from converters.data import for_run

    run, cfg, _ = squad_run
    data = for_run(cfg, "finetune-squad", SEQ, 8, 8, metric_examples=QUESTIONS, run_dir=run)
    from mbert_cli.data.squad import squad_features
    from mbert_cli.data.task_sets import load_squad_splits, task_tokenizer

    _, dev = load_squad_splits(cfg, None, run)
    windows = squad_features(dev[:QUESTIONS], task_tokenizer(cfg), SEQ, cfg.finetune.doc_stride,
                             cfg.finetune.max_query_length)
    n = len(windows)
    assert len(data.heldout["input_word_ids"]) == n
    start, end = np.full((n, SEQ), -10.0, np.float32), np.full((n, SEQ), -10.0, np.float32)
    for i, w in enumerate(windows):
        # Windows without the answer point at [CLS]: never a valid span, so they cannot win.
        start[i, w.start_position] = end[i, w.end_position] = 10.0
    gold = data.metric({"start_logits": start, "end_logits": end})
    rng = np.random.default_rng(0)
    noise = data.metric({"start_logits": rng.normal(size=(n, SEQ)), "end_logits": rng.normal(size=(n, SEQ))})
    assert gold >= 90.0 and noise < 50.0
