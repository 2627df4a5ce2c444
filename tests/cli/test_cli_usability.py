"""The CLI explains itself: -h, readable metavars, choices and paths checked before TensorFlow loads,
usage errors as one line + hint (exit 2), --debug anywhere, one name per idea with old spellings hidden."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app, take_debug_flag
from mbert_cli.cli.options import run_folder, stage_folder
from mbert_cli.errors import MbertError

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()
COMMANDS = [[], ["presets"], ["config"], ["version"], ["export"], ["bench"], ["eval"], ["devices"], ["demo"],
            ["import"], ["export-hf"], ["data"], ["data", "prepare"], ["data", "vocab"], ["train"],
            ["train", "teacher"], ["train", "student"], ["train", "finetune"]]


def _entry(*args: str, probe_tf: bool = False) -> subprocess.CompletedProcess:
    """Runs the real console entry point; with probe_tf, also prints whether TensorFlow got imported."""
    code = ("import sys\nfrom mbert_cli.cli.app import run\ntry:\n    run(sys.argv[1:])\nexcept SystemExit as e:\n"
            "    code = e.code\nelse:\n    code = 0\n"
            + ("print('TF_LOADED' if 'tensorflow' in sys.modules else 'TF_NOT_LOADED')\n" if probe_tf else "")
            + "sys.exit(code)\n")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mbert")
def test_every_help_takes_h_and_shows_no_python_types(command):
    result = runner.invoke(app, [*command, "-h"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    for python_type in ("<bool>", "<str>", "<path>", "<int>", "list[", "<float>"):
        assert python_type not in result.output, f"{python_type} in `mbert {' '.join(command)} -h`"


def test_metavars_say_what_to_type():
    finetune = runner.invoke(app, ["train", "finetune", "-h"], env={"COLUMNS": "200"}).output
    assert "KEY=VALUE" in finetune and "classification|squad" in finetune
    assert "default|mirrored|multiworker|tpu" in finetune
    bench = runner.invoke(app, ["bench", "-h"], env={"COLUMNS": "200"}).output
    assert "MODEL..." in bench and "{models}" not in bench


def test_usage_error_is_one_line_and_a_hint_with_exit_2():
    out = _entry("bench", "model.tflite", "--no-such-option")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == ["Error: No such option: --no-such-option",
                                               "Hint: see 'mbert bench --help'"]


@pytest.mark.parametrize("args", [["train", "finetune", "--task", "nope", "--init", "x"],
                                  ["train", "student", "--teacher", "x", "--run", "r", "--strategy", "sideways"],
                                  ["eval", "--run", "x", "--which", "worst"],
                                  ["import", "minilm", "--run", "r", "--format", "onnx"],
                                  ["bench", "m.tflite", "--delegate", "tpu"],
                                  ["train", "teacher", "--run", "r", "--distribution", "cloud"]])
def test_a_wrong_choice_fails_before_tensorflow_loads(args):
    out = _entry(*args, probe_tf=True)
    assert out.returncode == 2, out.stderr
    assert "TF_NOT_LOADED" in out.stdout
    assert out.stderr.startswith("Error: Invalid value for")
    assert len(out.stderr.strip().splitlines()) == 2


def test_missing_paths_fail_before_tensorflow_loads(tmp_path):
    missing = str(tmp_path / "nope")
    for args, words in ((["import", missing, "--run", str(tmp_path / "r")], "no checkpoint at"),
                        (["eval", "--run", missing], "does not exist"),
                        (["train", "finetune", "--init", missing], "does not exist")):
        out = _entry(*args, probe_tf=True)
        assert out.returncode == 1, out.stderr
        assert "TF_NOT_LOADED" in out.stdout
        assert out.stderr.startswith("Error: ") and words in out.stderr
        assert not (tmp_path / "r").exists()


def test_bad_import_path_answers_about_as_fast_as_help(tmp_path):
    """Ratio, not seconds: the check runs before any heavy import, so it costs what --help costs."""
    def best(*args):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            _entry(*args)
            times.append(time.perf_counter() - start)
        return min(times)

    help_s = best("--help")
    import_s = best("import", str(tmp_path / "nope"), "--run", str(tmp_path / "r"))
    assert import_s < 3 * help_s, f"import of a missing path took {import_s:.2f}s against --help {help_s:.2f}s"


def test_debug_is_accepted_after_the_subcommand():
    assert take_debug_flag(["bench", "x", "--debug"]) == (["bench", "x"], True)
    assert take_debug_flag(["bench", "--", "--debug"]) == (["bench", "--", "--debug"], False)
    out = _entry("presets", "--json", "--debug")
    assert out.returncode == 0, out.stderr
    assert '"name"' in out.stdout


def test_debug_shows_the_traceback(tmp_path):
    out = _entry("eval", "--run", str(tmp_path / "nope"), "--debug")
    assert out.returncode != 0
    assert "Traceback" in out.stderr and "does not exist" in out.stderr


def test_old_spellings_still_work_but_are_hidden():
    demo = runner.invoke(app, ["demo", "-h"], env={"COLUMNS": "200"}).output
    assert "--runs" in demo and "--bench-runs" not in demo
    evaluate = runner.invoke(app, ["eval", "-h"], env={"COLUMNS": "200"}).output
    assert "--from" in evaluate and "--stage" not in evaluate
    bench = runner.invoke(app, ["bench", "-h"], env={"COLUMNS": "200"}).output
    assert "--out" in bench and "--json" not in bench
    assert "--show" not in runner.invoke(app, ["config", "-h"], env={"COLUMNS": "200"}).output
    # The hidden spellings parse: a wrong model path is then the first (one-line) error, not a usage error.
    result = runner.invoke(app, ["bench", "missing.tflite", "--json", "x.json"])
    assert result.exit_code == 1 and "model file not found" in result.output


def test_run_and_stage_folders_are_read_alike(tmp_path):
    run = tmp_path / "runs" / "s"
    (run / "student" / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("x: 1\n")
    assert stage_folder(run, "--init") == run / "student"
    assert stage_folder(run / "student", "--init") == run / "student"
    assert run_folder(run / "student", "--teacher") == run
    assert run_folder(run, "--teacher") == run
    empty = tmp_path / "runs" / "empty"
    empty.mkdir()
    (empty / "config.yaml").write_text("x: 1\n")
    with pytest.raises(MbertError, match="has no student or teacher stage"):
        stage_folder(empty, "--init")


def test_completion_is_offered():
    assert "--install-completion" in runner.invoke(app, ["-h"], env={"COLUMNS": "200"}).output
