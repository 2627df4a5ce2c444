"""Shared test setup: quiet TensorFlow, one thread pool size, repo root on sys.path; tiny models."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Two tiny encoders (small, large) with MobileBERT's input signature, plus a manifest.json."""
    from tests.tiny_models import build_tiny_models

    built = build_tiny_models(tmp_path_factory.mktemp("tiny"), seq_len=16)
    return [m.path for m in built]
