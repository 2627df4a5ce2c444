"""Examples an export needs: a calibration set for int8 and held-out rows for parity/metric.

Fine-tuned runs use their own task data through training's loaders (same tokenizer, labels
and SQuAD windows): training rows calibrate, validation rows measure parity and the task
metric (accuracy for classification, F1 with the official normalisation for SQuAD).
Pre-training stages get synthetic rows (random in-vocabulary ids, random lengths, zero
padding) with no labels, so no task metric is computed; the manifest says which.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mbert_cli.data.squad import feature_arrays
from mbert_cli.data.squad_eval import postprocess_predictions, squad_metrics
from mbert_cli.data.task_sets import load_squad_splits, squad_windows
from mbert_cli.modeling.encoders import INPUT_NAMES
from mbert_cli.training.inputs import classification_data, dataset_arrays


@dataclass
class ExportData:
    """Calibration rows, held-out rows (+ labels), and where they came from."""

    representative: dict[str, np.ndarray]
    heldout: dict[str, np.ndarray]
    labels: np.ndarray | None = None  # held-out labels (classification); None = no metric
    source: str = "synthetic"
    metric_name: str | None = None
    metric_fn: Callable[[dict[str, np.ndarray], np.ndarray], float] | None = field(default=None, repr=False)

    def metric(self, outputs: dict[str, np.ndarray]) -> float | None:
        if self.labels is None or self.metric_fn is None:
            return None
        return float(self.metric_fn(outputs, self.labels))


def accuracy_points(outputs: dict[str, np.ndarray], labels: np.ndarray) -> float:
    """Classification accuracy in points (0-100) from the `logits` (or app-ready `probabilities`) output."""
    scores = outputs["logits"] if "logits" in outputs else outputs["probabilities"]
    return 100.0 * float(np.mean(np.argmax(scores, axis=-1) == labels))


def synthetic_rows(n: int, seq_len: int, vocab_size: int, seed: int = 0, min_len: int = 4) -> dict[str, np.ndarray]:
    """Random token rows shaped like real ones: [CLS]-like id first, ids >= 5, zero padding."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(n, seq_len)).astype(np.int32)
    mask = np.zeros((n, seq_len), np.float32)
    types = np.zeros((n, seq_len), np.int32)
    for i in range(n):
        length = int(rng.integers(min(min_len, seq_len), seq_len + 1))
        mask[i, :length] = 1.0
        ids[i, length:] = 0
        cut = int(rng.integers(1, length)) if length > 2 else length
        types[i, cut:length] = 1
    ids[:, 0] = 2  # a fixed first token, as [CLS] is
    return {"input_word_ids": ids, "input_type_ids": types, "input_mask": mask}


def synthetic(seq_len: int, vocab_size: int, representative: int, heldout: int, seed: int = 0) -> ExportData:
    return ExportData(synthetic_rows(representative, seq_len, vocab_size, seed),
                      synthetic_rows(heldout, seq_len, vocab_size, seed + 1), source="synthetic")


def for_run(config: Any, stage: str, seq_len: int, representative: int, heldout: int,
            metric_examples: int = 1000, run_dir: Any = None) -> ExportData:
    """The run's own task data for fine-tuned runs (up to `metric_examples` validation rows,
    or questions for SQuAD, for parity and the task metric), else `heldout` synthetic rows.

    `run_dir` is where the shipped SQuAD set was written by the fine-tune (run/data/squad).
    """
    if stage == "finetune-classification":
        rep, held, labels, source = _classification_rows(config, seq_len, representative, metric_examples)
        return ExportData(rep, held, labels, source, "accuracy", accuracy_points)
    if stage == "finetune-squad":
        return _squad_data(config, run_dir, seq_len, representative, metric_examples)
    # Pre-training stages: parity on synthetic rows, no task metric (said in the manifest).
    return synthetic(seq_len, config.encoder.vocab_size, representative, heldout, seed=config.seed)


def _squad_data(config: Any, run_dir: Any, seq_len: int, representative: int, questions: int) -> ExportData:
    """SQuAD windows made exactly as the fine-tune makes them; the metric is dev F1.

    The model's outputs are per window (feature); F1 is per question, so the `labels` are
    the window indices and the metric function runs the fine-tune's own post-processing
    (best span over windows, official normalisation) on whichever logits it is given.
    """
    cfg = copy.deepcopy(config)
    cfg.data.seq_len = seq_len
    train, dev = load_squad_splits(cfg, None, run_dir)
    dev = dev[:questions]
    windows = squad_windows(cfg, dev)
    calibration = squad_windows(cfg, train[:representative])[:representative]

    def f1_points(outputs: dict[str, np.ndarray], window_index: np.ndarray) -> float:
        order = np.asarray(window_index, dtype=np.int64)
        predictions = postprocess_predictions(dev, [windows[i] for i in order],
                                              outputs["start_logits"], outputs["end_logits"])
        return float(squad_metrics(predictions, dev)["f1"])

    return ExportData(feature_arrays(calibration), feature_arrays(windows), np.arange(len(windows)),
                      f"task:{config.data.task_data} ({len(dev)} questions, {len(windows)} windows)",
                      "f1", f1_points)


def _classification_rows(config: Any, seq_len: int, representative: int, heldout: int):
    """(calibration rows, validation rows, validation labels, source) from the run's task data.

    Uses training's own loader (same tokenizer, vocab and label order as the fine-tune);
    calibration rows come from the training split, parity/metric rows from validation.
    """
    cfg = copy.deepcopy(config)
    cfg.data.seq_len = seq_len
    train, validation, _labels, make = classification_data(cfg, None, cfg.finetune.max_examples)
    rep, _ = dataset_arrays(make(train[:representative], 64, False))
    held, labels = dataset_arrays(make(validation[:heldout], 64, False))
    return ({k: rep[k] for k in INPUT_NAMES}, {k: held[k] for k in INPUT_NAMES}, labels,
            f"task:{config.data.task_data}")
