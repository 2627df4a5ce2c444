"""Fine-tuning from random weights: the baseline the demo compares distillation against."""

import json

import pytest

from mbert_cli.errors import MbertError
from tests.training.conftest import tiny_config


def test_finetune_from_random_weights_records_its_init(tmp_path, quiet):
    from mbert_cli.training.finetune import train_finetune

    cfg = tiny_config("nano-student", "finetune.steps=6")
    summary = train_finetune(tmp_path / "scratch", cfg, None, "classification", progress=False, say=quiet)
    stage = tmp_path / "scratch" / "finetune-classification"
    assert json.loads((stage / "task.json").read_text())["init"] == "random"
    assert summary["steps"] == 6 and 0.0 <= summary["eval"]["accuracy"] <= 1.0
    assert any(stage.joinpath("checkpoints").iterdir())
    assert (tmp_path / "scratch" / "config.yaml").is_file()


def test_squad_from_random_weights_is_refused(tmp_path, quiet):
    from mbert_cli.training.finetune import train_finetune

    with pytest.raises(MbertError, match="needs a pre-trained stage"):
        train_finetune(tmp_path / "s", tiny_config("nano-student"), None, "squad", progress=False, say=quiet)
