"""Tiny configs and synthetic data for training tests (no files to prepare, seconds per run)."""

from __future__ import annotations

import pytest

# 2 layers, seq 32, synthetic data: every stage of the recipe in a few seconds on 2 cores.
TINY = ["data.corpus=synthetic", "data.task_data=synthetic", "data.seq_len=32", "data.max_predictions_per_seq=5",
        "encoder.num_layers=2", "train.batch_size=8", "distill.batch_size=8", "finetune.batch_size=8",
        "train.log_every=2", "train.checkpoint_every=4", "train.eval_steps=2"]


def tiny_config(preset: str, *extra: str):
    from mbert_cli.config import resolve_config

    return resolve_config(preset, None, TINY + list(extra))


@pytest.fixture
def quiet():
    return lambda *a, **k: None


def pytest_configure(config):
    # BertPretrainerV2 passes masked_lm_positions on to the encoder, which ignores it (harmless).
    config.addinivalue_line("filterwarnings", "ignore:Input dict contained keys:UserWarning")
