"""mbert run -> Hugging Face layout (model.safetensors + config.json + vocab.txt): the import maps run backwards.

Uses the same name maps as the importer (`hf_mobilebert`, `hf_bert`) with each reshape
inverted, so `mbert import` of the result rebuilds identical weights. The NSP head is not
written: mbert's (pooler dense + logits) has no HF counterpart.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf
from safetensors.numpy import save_file

from mbert_cli.config import load_run_config
from mbert_cli.data.vocab import resolve_vocab
from mbert_cli.errors import MbertError
from mbert_cli.importing import configs, hf_bert, hf_mobilebert
from mbert_cli.importing.mapping import from_mbert, named_variables
from mbert_cli.io_utils import atomic_dir
from mbert_cli.modeling.pretrainer import build_pretrainer
from mbert_cli.training.checkpoints import restore, stage_checkpoint_path


def export_hf(run: str | Path, out: str | Path, stage: str | None = None) -> dict:
    """Writes `out` (a new folder); returns {'tensors', 'parameters', 'stage', 'architecture'}."""
    run, out = Path(run), Path(out)
    if out.exists() and any(out.iterdir()):
        raise MbertError(f"{out} already exists and is not empty", hint="choose a new --out folder")
    cfg = load_run_config(run)
    stage = stage or ("student" if (run / "student" / "checkpoints").is_dir() else "teacher")
    if stage not in ("teacher", "student"):
        raise MbertError(f"--from {stage}: only a pre-training stage (teacher or student) has the HF layout",
                         hint="export runs/NAME's teacher or student stage")
    enc = cfg.encoder
    pm = build_pretrainer(enc)
    restore(tf.train.Checkpoint(model=pm.model), stage_checkpoint_path(run, stage))
    variables = named_variables(pm)
    if enc.kind == "mobilebert":
        entries, prefix, mlm = hf_mobilebert.encoder_entries(enc), hf_mobilebert.PREFIX, hf_mobilebert.MLM_ENTRIES
        hf_cfg = configs.hf_config_dict(enc)
    else:
        entries, prefix, mlm = hf_bert.encoder_entries(enc, True), hf_bert.PREFIX, hf_bert.MLM_ENTRIES
        hf_cfg = _bert_config(enc)
    tensors = {}
    for e in entries:
        tensors[prefix + e.source] = np.ascontiguousarray(from_mbert(variables[e.target].numpy(), e.transform))
    for e in mlm:
        tensors[e.source] = np.ascontiguousarray(from_mbert(variables[e.target].numpy(), e.transform))
    vocab = resolve_vocab(cfg.data.vocab, enc.vocab_size)
    with atomic_dir(out, "export") as tmp:
        save_file(tensors, str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json.dumps(hf_cfg, indent=2) + "\n", encoding="utf-8")
        shutil.copyfile(vocab, tmp / "vocab.txt")
    notes = []
    if enc.mlm_activation != enc.activation:
        notes.append(f"the MLM head applies {enc.mlm_activation} where hidden_act is {enc.activation}: config.json "
                     f"says so under {configs.MLM_ACT_KEY!r}, which mbert import reads; transformers applies "
                     "hidden_act, so its MLM logits differ (the encoder's outputs do not)")
    return {"out": str(out), "stage": stage, "architecture": enc.kind, "tensors": len(tensors),
            "parameters": int(sum(v.size for v in tensors.values())), "notes": notes}


def _bert_config(enc) -> dict:
    return {"architectures": ["BertForPreTraining"], "model_type": "bert", "vocab_size": enc.vocab_size,
            "hidden_size": enc.hidden_size, "num_hidden_layers": enc.num_layers,
            "num_attention_heads": enc.num_heads, "intermediate_size": enc.intermediate_size,
            "hidden_act": enc.activation, "hidden_dropout_prob": enc.hidden_dropout,
            "attention_probs_dropout_prob": enc.attention_dropout, "max_position_embeddings": enc.max_sequence_length,
            "type_vocab_size": enc.type_vocab_size, "initializer_range": enc.initializer_range,
            "layer_norm_eps": configs.TF_MODELS_EPSILON, "position_embedding_type": "absolute", "pad_token_id": 0,
            **configs.mlm_activation_entry(enc)}
