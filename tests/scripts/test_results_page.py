"""scripts/results.py: the results page is rendered from stamped records, and the committed page is current."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import results  # noqa: E402


def test_committed_page_matches_its_records():
    """docs/results.md is what the committed records render: a hand edit or a forgotten render fails."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "results.py"), "check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_every_committed_record_is_stamped():
    for record in results.load_records():
        assert record["date"] and record["cpu_model"] and record["command"] and record["threads"] >= 1
        assert "/tmp/" not in json.dumps(record)


def test_record_without_stamp_is_refused(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"id": "a", "title": "t", "columns": ["x"], "rows": [[1]]}))
    with pytest.raises(SystemExit, match="missing date, cpu_model, cpu_flags, threads, command"):
        results.load_records(tmp_path)


def test_render_shows_stamp_and_rows():
    record = {"id": "r", "title": "Latency", "date": "2026-01-02", "cpu_model": "Some CPU", "cpu_flags": ["avx2"],
              "threads": 1, "command": "mbert bench x.tflite", "columns": ["model", "p50 ms"],
              "rows": [["student", 0.731], ["teacher", None]]}
    page = results.render([record])
    assert "## Latency" in page
    assert "2026-01-02 · Some CPU (avx2) · 1 thread(s) · `mbert bench x.tflite`" in page
    assert "| student | 0.73 |" in page and "| teacher |  |" in page


def test_demo_summary_becomes_records():
    summary = {"rows": [{"model": "student int8", "parameters": 7, "file_mb": 8.0, "accuracy_tf": 0.8055,
                         "accuracy_tflite": 0.8047, "host_p50_ms": 0.73, "speedup_vs_teacher": 6.28}],
               "accuracy_tf": {"scratch_student": 0.7906, "tfidf_svm": 0.7796},
               "timings_s": {"teacher": 9.0, "export": 122.5}}
    models, stages = results.demo_records(summary, "mbert demo", "2026-01-02", ("CPU", ["avx2"]), 1)
    assert models["rows"][0] == ["student int8", 7, 8.0, 80.55, 80.47, 0.73, 6.28]
    assert models["rows"][1][0] == "same student from random weights" and models["rows"][1][3] == 79.06
    assert stages["rows"][-1] == ["total", 131.5]


def test_cpu_description_reads_flags(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("model name\t: Test CPU 9000\nflags\t\t: fpu sse avx2 fma avx512f avx512_vnni\n")
    model, flags = results.cpu_description(info)
    assert model == "Test CPU 9000" and flags == ["avx2", "fma", "avx512f", "avx512_vnni"]


def test_demo_records_are_stamped_with_the_cpu_the_demo_ran_on():
    """summary.json's own `cpu` wins over the machine that records it; an older summary falls back."""
    ran_on = {"model": "Other CPU 1", "flags": ["avx2", "fma"], "cores": 2, "threads": 2}
    assert results.demo_cpu({"cpu": ran_on}) == ("Other CPU 1", ["avx2", "fma"])
    assert results.demo_cpu({}) == results.cpu_description()
