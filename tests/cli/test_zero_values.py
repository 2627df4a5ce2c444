"""0 is a value: an explicit option is used or refused, never swapped for the config's default."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from benchmarks.device import DeviceSettings, _run_one_device
from mbert_cli.cli.app import app
from mbert_cli.config import resolve_config, save_run_config
from mbert_cli.errors import MbertError

runner = CliRunner()


@pytest.fixture
def run_dir(tmp_path):
    """A run folder with only config.yaml: enough for the export's argument checks, which come first."""
    run = tmp_path / "r"
    save_run_config(resolve_config("nano-student"), run / "config.yaml")
    return run


def test_export_seq_len_zero_is_refused_not_replaced_by_128(run_dir, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["export", "--run", str(run_dir), "--quantize", "none", "--seq-len", "0",
                                 "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "Error: --seq-len: sequence length 0 is not positive" in result.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("argv, option", [
    (["export", "--run", "RUN", "--quantize", "int8", "--representative", "0"], "--representative"),
    (["export", "--run", "RUN", "--quantize", "none", "--metric-examples", "0"], "--metric-examples"),
    (["bench", "MODEL", "--runs", "0"], "--runs"),
    (["bench", "MODEL", "--threads", "0"], "--threads"),
    (["bench", "MODEL", "--device", "pixel4", "--threads", "0"], "--threads"),
])
def test_zero_counts_are_refused_by_name(run_dir, tmp_path, argv, option):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(64))
    argv = [str(run_dir) if a == "RUN" else str(model) if a == "MODEL" else a for a in argv]
    result = runner.invoke(app, argv, env={"COLUMNS": "200"})
    assert result.exit_code == 2  # a usage error, before any work
    assert f"Invalid value for '{option}'" in result.output and "greater than or equal to 1" in result.output
    assert not (tmp_path / "r" / "export").exists() and not (tmp_path / "bench").exists()


def test_device_runner_refuses_zero_threads_instead_of_the_profile_count():
    class Profile:
        threads = 4

    with pytest.raises(MbertError, match=r"--threads 0 is invalid"):
        _run_one_device(None, "serial", Profile(), None, [], None, "", DeviceSettings(threads=0), None)


def test_export_library_refuses_zero_examples_instead_of_using_the_default(run_dir, tmp_path):
    from converters import export_run
    from mbert_cli.errors import MbertError

    for kwargs in ({"parity_examples": 0}, {"metric_examples": 0}):
        with pytest.raises(MbertError, match="must be positive"):
            export_run(run_dir, stage="finetune-classification", out_dir=tmp_path / "out",
                       settings={"modes": ["none"]}, **kwargs)
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
