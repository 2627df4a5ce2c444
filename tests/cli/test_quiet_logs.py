"""No TensorFlow/LiteRT C++ chatter on a CPU-only machine; real errors and tracebacks still reach stderr."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mbert_cli.log_filter import is_noise, nvidia_driver_present

ROOT = Path(__file__).resolve().parents[2]
# A TensorFlow/absl log line at ERROR or WARNING level, in either format TensorFlow uses.
TF_EW_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [EW] |[EW]\d{4} \d+:\d+:\d+)", re.M)
TINY = ["data.corpus=synthetic", "data.seq_len=32", "data.max_predictions_per_seq=5", "encoder.num_layers=2",
        "train.batch_size=8", "train.log_every=1", "train.checkpoint_every=2", "train.eval_steps=1", "train.steps=2"]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "MBERT_DEBUG")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _mbert(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = "import sys; from mbert_cli.cli.app import run; sys.argv[0] = 'mbert'; run()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=600)


def test_known_noise_is_recognised_and_nothing_else():
    cuinit = (b"2026-11-30 19:48:52.901135: E external/local_xla/xla/stream_executor/cuda/cuda_platform.cc:51] "
              b"failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)")
    assert is_noise(cuinit, gpu_driver=False)
    assert not is_noise(cuinit, gpu_driver=True)  # with a driver loaded, a failed cuInit is a real problem
    assert is_noise(b"W0000 00:00:1796068217.897278    8145 tf_tfl_flatbuffer_helpers.cc:364] Ignored output_format.",
                    gpu_driver=False)
    assert is_noise(b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, "
                    b"output_inference_type: FLOAT32", gpu_driver=False)
    for real in (b"E0000 00:00:1796068217.897278    8145 saver.cc:12] Failed to write checkpoint",
                 b"2026-11-30 19:48:52.901135: E tensorflow/core/framework/op_kernel.cc:1] OOM when allocating",
                 b"ERROR: Didn't find op for builtin opcode 'FULLY_CONNECTED'",
                 b"Traceback (most recent call last):", b"Error: train.steps=-5 is invalid"):
        assert not is_noise(real, gpu_driver=False), real


def test_filter_drops_noise_written_to_fd_2_and_passes_the_rest(tmp_path):
    code = (
        "import os, sys\n"
        "from mbert_cli.log_filter import install_stderr_filter\n"
        "install_stderr_filter()\n"
        "os.write(2, b'W0000 00:00:1.2    8 x.cc:3] Ignored output_format.\\n')\n"
        "os.write(2, b'E0000 00:00:1.2    8 x.cc:3] a real error\\n')\n"
        "os.write(2, b'INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\npartial')\n"
        "os.write(2, b' line\\n')\n"
        "print('python says hi', file=sys.stderr)\n"
        "raise SystemExit('fatal: the end')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr == "E0000 00:00:1.2    8 x.cc:3] a real error\npartial line\npython says hi\nfatal: the end\n"


@pytest.mark.skipif(nvidia_driver_present(), reason="checks the CPU-only machine's output")
def test_a_training_command_prints_no_tensorflow_log_line_but_debug_shows_them(tmp_path):
    sets = [a for s in TINY for a in ("--set", s)]
    normal = _mbert("train", "teacher", "--run", str(tmp_path / "r"), "--no-progress", *sets, cwd=tmp_path)
    assert normal.returncode == 0, normal.stderr
    assert not TF_EW_LINE.search(normal.stderr), normal.stderr
    assert "cuInit" not in normal.stderr and '"steps": 2' in normal.stdout
    # A real error still reaches the user, as one line.
    bad = _mbert("train", "teacher", "--run", str(tmp_path / "r2"), "--set", "train.steps=-5", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: train.steps=-5 is invalid")
    # --debug shows everything TensorFlow logs (here: the expected cuInit failure).
    debug = _mbert("--debug", "train", "teacher", "--run", str(tmp_path / "r"), "--no-progress", *sets,
                   "--steps", "3", cwd=tmp_path)
    assert debug.returncode == 0, debug.stderr
    assert "failed call to cuInit" in debug.stderr
