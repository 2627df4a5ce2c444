"""An imported run fine-tunes on the fast path by default: grouped batches, seq_len fitted to the task."""

import numpy as np
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from mbert_cli.data import length_batches
from tests.importing import checkpoints as ck

runner = CliRunner()


def test_import_then_finetune_resolves_to_grouped_batches_of_the_fitted_length(tmp_path):
    from mbert_cli.data.classification import load_classification
    from mbert_cli.data.tokenizer import WordPieceTokenizer
    from mbert_cli.training.finetune import ClassificationTask
    from mbert_cli.training.finetune_base import finetune_run_config

    config = dict(ck.TINY_BERT, max_position_embeddings=512)  # room for any fitted length
    src = ck.write_hf(tmp_path / "hf", config, ck.random_weights(ck.bert_shapes(config)))
    run = tmp_path / "run"
    result = runner.invoke(app, ["import", str(src), "--run", str(run)])
    assert result.exit_code == 0, result.output

    _, cfg = finetune_run_config(run / "teacher", run, None, [])  # what `mbert train finetune` resolves
    assert cfg.data.group_by_length is True
    train, _, _ = load_classification(cfg.data.task_data)
    lengths = length_batches.token_lengths(WordPieceTokenizer(src / "vocab.txt"), [e.text_a for e in train])
    seq = cfg.data.seq_len
    assert seq in length_batches.SEQ_LEN_CHOICES
    assert np.mean(lengths <= seq) >= length_batches.COVERAGE  # holds the task's sentences ...
    if seq > length_batches.SEQ_LEN_CHOICES[0]:  # ... and is the smallest choice that does
        assert np.mean(lengths <= seq // 2) < length_batches.COVERAGE

    task = ClassificationTask(cfg, str(run / "teacher"), None, None)
    task.prepare(None)  # the task's rows, as run_stage has it load them first
    ds = task.build_inputs(None, None, type("Single", (), {"num_input_pipelines": 1})(), 16, seed=0)
    widths = [features["input_mask"].shape[1] for features, _ in ds.take(12)]
    assert all(w <= seq for w in widths) and len(set(widths)) > 1  # trimmed per batch, not padded to seq


def test_fitted_seq_len_is_the_smallest_choice_that_covers():
    short = np.full(1000, 20)
    assert length_batches.fitted_seq_len(short, cap=512) == 64
    long_tail = np.concatenate([np.full(980, 20), np.full(20, 100)])  # 2% above 64
    assert length_batches.fitted_seq_len(long_tail, cap=512) == 128
    assert length_batches.fitted_seq_len(long_tail, cap=96) == 96  # never past the position table
    assert length_batches.fitted_seq_len(np.full(10, 900), cap=512) == 512
