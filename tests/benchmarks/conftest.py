"""Shared fixtures: tiny .tflite models built once per test session (TensorFlow imported lazily)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Two tiny encoders (small, large) with MobileBERT's input signature, plus a manifest.json."""
    from benchmarks.suite.tiny_models import build_tiny_models

    built = build_tiny_models(tmp_path_factory.mktemp("tiny"), seq_len=16)
    return [m.path for m in built]


@pytest.fixture
def fixture_text():
    def read(name: str) -> str:
        return (FIXTURES / name).read_text()

    return read
