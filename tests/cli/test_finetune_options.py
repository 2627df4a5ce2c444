"""`mbert train finetune` refuses options it cannot honour at once, before any data or model work."""

from __future__ import annotations

from typer.testing import CliRunner

from mbert_cli.cli.app import app


def test_squad_with_distill_from_is_one_error_before_anything_is_read(tmp_path):
    # --init names nothing: the refusal comes before the run's config is even looked for.
    result = CliRunner().invoke(app, ["train", "finetune", "--init", str(tmp_path / "none" / "student"),
                                      "--task", "squad", "--distill-from", str(tmp_path / "other")])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert lines[0] == ("Error: --distill-from works with --task classification only (SQuAD fine-tuning has no "
                        "task distillation)")
    assert lines[1].startswith("Hint: drop --distill-from") and len(lines) == 2
    assert not (tmp_path / "none").exists() and not (tmp_path / "other").exists()


def test_classification_with_distill_from_passes_the_check(tmp_path):
    result = CliRunner().invoke(app, ["train", "finetune", "--init", str(tmp_path / "none" / "student"),
                                      "--distill-from", str(tmp_path / "other")])
    assert result.exit_code == 1 and "distill-from works with" not in result.stderr
    assert "--init" in result.stderr and "does not exist" in result.stderr  # the next check: the --init folder
