"""Two local MultiWorkerMirrored workers on 127.0.0.1 train a few steps to identical weights."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TINY

ROOT = Path(__file__).resolve().parents[2]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_finish_with_identical_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    sets = []
    for item in TINY:
        sets += ["--set", item]
    procs = []
    for index in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        cmd = [sys.executable, "-m", "mbert_cli.cli.app", "train", "teacher", "--run", str(tmp_path / "t"),
               "--distribution", "multiworker", "--steps", "6", "--no-progress", *sets]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, out + err
        outs.append(json.loads(out[out.index("{"):]))
    assert outs[0]["steps"] == outs[1]["steps"] == 6
    assert outs[0]["weights_sha256"] == outs[1]["weights_sha256"]
    # Only the chief (worker 0) wrote the run folder.
    assert (tmp_path / "t" / "teacher" / "checkpoints" / "ckpt-6.index").exists()


@pytest.mark.slow
def test_mirrored_strategy_runs(tmp_path):
    from typer.testing import CliRunner

    from mbert_cli.cli.app import app

    sets = []
    for item in TINY:
        sets += ["--set", item]
    result = CliRunner().invoke(app, ["train", "teacher", "--run", str(tmp_path / "m"), "--distribution", "mirrored",
                                      "--steps", "4", "--no-progress", *sets])
    assert result.exit_code == 0, result.output + result.stderr
    assert (tmp_path / "m" / "teacher" / "checkpoints" / "ckpt-4.index").exists()
