"""OPT pass on nano-student-no-opt: weights by name, recovery, an OPT-clean graph."""

from __future__ import annotations

import json

import pytest
from export_helpers import SEQ, make_run, task_data

from mbert_cli.errors import MbertError


def test_canonical_name_drops_keras_uniquifier_only():
    from converters.opt_substitution import canonical_name

    assert canonical_name("mobile_bert_embedding_3/word_embedding/embeddings:0") == \
        "mobile_bert_embedding/word_embedding/embeddings"
    assert canonical_name("transformer_layer_0/bottleneck_input/norm/gamma:0") == \
        "transformer_layer_0/bottleneck_input/norm/gamma"
    assert canonical_name("transformer_layer_11/ffn_layer_2/norm/beta:0") == \
        "transformer_layer_11/ffn_layer_2/norm/beta"


@pytest.fixture(scope="module")
def opt_export(tmp_path_factory):
    from converters import ExportOptions, export_run

    run = tmp_path_factory.mktemp("opt") / "no-opt"
    # A short real fine-tune of the LayerNorm/GELU model on a cue-word task (see export_helpers).
    # The cue is one token, so the head reads [CLS]: a mean over 32 positions dilutes it to
    # a margin any perturbation flips, which would test the task, not the substitution.
    cfg, _ = make_run(run, preset="nano-student-no-opt", scale=1.0, train_steps=100, bias_shift=1.0,
                      overrides=("encoder.classifier_pooling=cls",))
    data = task_data(cfg)
    report = export_run(run, options=ExportOptions(modes=("none",), seq_len=SEQ, representative=64),
                        data=data, opt=True, recovery_steps=100)
    plain = export_run(run, options=ExportOptions(modes=("none",), seq_len=SEQ, representative=8),
                       data=data, out_dir=run / "plain")
    return run, report, plain


def test_every_weight_maps_by_name():
    import tensorflow as tf

    from converters.export_model import build_export_model
    from converters.opt_substitution import map_weights
    from mbert_cli.config import resolve_config

    tf.keras.utils.set_random_seed(0)
    cfg = resolve_config("nano-student-no-opt")
    _, src = build_export_model(cfg, "finetune-classification")
    _, dst = build_export_model(cfg, "finetune-classification", encoder_cfg=resolve_config("nano-student").encoder)
    wmap = map_weights(src, dst)
    assert wmap.unmapped_target == [] and wmap.unused_source == [] and wmap.shape_mismatch == []
    assert len(wmap.pairs) == len(dst.weights)
    norm_pairs = [(s.name, t.name) for s, t in wmap.pairs if "/norm/" in t.name or "embedding_norm" in t.name]
    assert norm_pairs and all(s.split("/")[-1] == t.split("/")[-1] for s, t in norm_pairs)


def test_metric_recovers(opt_export):
    _, report, _ = opt_export
    opt = report.opt
    print("OPT report:", json.dumps({k: opt[k] for k in ("metric", "fidelity", "loss_first", "loss_last")}))
    assert opt["noop"] is False and opt["unmapped"] == []
    m, fid = opt["metric"], opt["fidelity"]
    assert m["before"] >= 95.0  # the fine-tune learned the task
    assert m["after_copy"] < m["before"] - 10  # dropping LayerNorm statistics hurts...
    assert m["after_recovery"] >= m["before"] - 1.0  # ...and recovery distillation brings it back
    assert fid["after_recovery"] > max(fid["after_copy"], 0.99)
    assert opt["loss_last"] < opt["loss_first"]


def test_opt_graph_has_no_layernorm_statistics_or_gelu(opt_export):
    _, report, plain = opt_export
    stats = ("MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU")
    for f in report.files:
        assert f.file.startswith("finetune-classification-opt_")
        assert not [op for op in stats if op in f.ops], f.ops
    # The same model without --opt does have them: the check above is not vacuous.
    assert any(op in plain.files[0].ops for op in stats), plain.files[0].ops


def test_manifest_records_the_substitution(opt_export):
    run, _, _ = opt_export
    m = json.loads((run / "export" / "manifest.json").read_text())
    assert m["opt_substitution"]["copied"] > 0
    assert m["source"]["normalization_type"] == "no_norm" and m["source"]["activation"] == "relu"
    assert all(e["opt"] for e in m["files"])


def test_already_opt_is_a_checked_noop(tmp_path):
    from converters.export_model import restore_for_export
    from converters.opt_substitution import substitute

    make_run(tmp_path / "s", preset="nano-student")
    restored = restore_for_export(tmp_path / "s", "finetune-classification")
    result = substitute(restored, data=None, steps=5)
    assert result.report == {"noop": True} and result.model is restored.model


def test_opt_on_bert_is_refused(tmp_path):
    from types import SimpleNamespace

    from converters.opt_substitution import substitute
    from mbert_cli.config import resolve_config

    with pytest.raises(MbertError, match="do not map"):
        substitute(SimpleNamespace(config=resolve_config("bert-base"), model=None, stage="student"), None)
