"""`import_checkpoint`: a published checkpoint -> a run folder that every mbert command accepts.

The run is written into a hidden temporary folder beside the target and renamed at the
end, so a failed import leaves nothing under `runs/NAME`. Layout (as `mbert train` writes):
    runs/NAME/config.yaml, vocab.txt, import.json
    runs/NAME/<teacher|student>/checkpoints/ckpt-0.*   the pre-training model (encoder + MLM + NSP)
BERT-family checkpoints become a `teacher` stage (BertEncoderV2), MobileBERT ones a
`student` stage (MobileBERTEncoder): `mbert train finetune --init runs/NAME/<stage>` and
`mbert export --run runs/NAME` find them like trained ones.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from mbert_cli.config import RunConfig, save_run_config
from mbert_cli.config.encoder import EncoderConfig
from mbert_cli.data import length_batches
from mbert_cli.data.classification import load_classification
from mbert_cli.data.tokenizer import WordPieceTokenizer
from mbert_cli.data.vocab import BERT_UNCASED_SIZE, resolve_vocab
from mbert_cli.errors import MbertError, first_line
from mbert_cli.importing import configs, hf_bert, hf_mobilebert, sources, tf_mobilebert
from mbert_cli.importing.mapping import ImportReport, apply, named_variables, reject_unexpected
from mbert_cli.io_utils import atomic_dir
from mbert_cli.modeling.pretrainer import build_pretrainer
from mbert_cli.training.run_dir import StageDir, write_json

# Fine-tuning defaults for a pre-trained BERT-size model (BERT's recipe: AdamW 2e-5..5e-5,
# 2-4 epochs); the nano presets' 5e-3 would wreck pre-trained weights. The rate and batch are
# the best of those studies/import_quality.py compared over three seeds on the shipped task
# (docs/results.md).
# Written with them: data.group_by_length=true and data.seq_len fitted to the task (`_task_seq_len`),
# so a plain `mbert train finetune --init RUN/teacher` takes the fast path (issue 35).
FINETUNE_SETTINGS = {"learning_rate": 4e-5, "epochs": 2.0, "batch_size": 16, "warmup_fraction": 0.1}


@dataclass
class Loaded:
    """A checkpoint read and checked, not yet written: its encoder config and how to fill the model."""

    encoder: EncoderConfig
    report: ImportReport
    fill: object  # callable(pretrainer) -> None: assigns the weights (raises MbertError on mismatch)
    vocab: Path
    pooling: str  # cls | mean


def import_checkpoint(source: str, run: str | Path, *, fmt: str = "auto", vocab: str | Path | None = None,
                      say=print) -> dict:
    """Reads SOURCE, builds the matching mbert model, fills it and writes `run`; returns import.json's content."""
    run = Path(run)
    if (run / "config.yaml").exists() or (run.exists() and any(run.iterdir())):
        raise MbertError(f"{run} already exists and is not empty", hint="import into a new --run folder")
    started = time.time()
    src = sources.locate(source, fmt, vocab)
    say(f"Reading {src.weights} ({src.format}) ...")
    loaded = load(src)
    pm = build_pretrainer(loaded.encoder)
    loaded.fill(pm)
    report = loaded.report
    report.notes.append(f"read, checked and mapped in {time.time() - started:.1f} s")
    _write_run(run, loaded, pm)
    return report.to_dict()


def load(src: sources.Source) -> Loaded:
    """Dispatches on the format; nothing is written."""
    if src.format == "hf":
        return _load_hf(src)
    if src.format == "tf1":
        return _load_tf1(src)
    return _load_tf2(src)


def _load_hf(src: sources.Source) -> Loaded:
    tensors = sources.read_safetensors(src.weights)
    file_label, config_label = src.weights.name, "config.json"
    if not (hf_bert.looks_like(tensors) or hf_mobilebert.looks_like(tensors)):
        first = sorted(tensors)[0]
        raise MbertError(f"{src.weights} is not a BERT or MobileBERT checkpoint (no embeddings.word_embeddings or "
                         f"attention.self tensors; first tensor {first!r})",
                         hint="mbert imports BERT-family and MobileBERT safetensors; this file holds another architecture")
    cfg = configs.read_json(src.config)
    arch = configs.architecture(cfg, config_label)
    is_mobile = hf_mobilebert.looks_like(tensors)
    if (arch == "mobilebert") != is_mobile:
        raise MbertError(f"config.json says model_type {arch!r} but {file_label} holds "
                         f"{'MobileBERT' if is_mobile else 'BERT'} tensors",
                         hint="config.json and the weights come from different models; use the pair released together")
    report = ImportReport(source=str(src.weights), format="hf", architecture=arch)
    if arch == "bert":
        tensors, prefix = hf_bert.strip_prefix(tensors)
        has_pooler = "pooler.dense.weight" in tensors
        enc = configs.bert_encoder_config(cfg, config_label, has_pooler)
        entries = hf_bert.encoder_entries(enc, has_pooler)
        mlm = hf_bert.MLM_ENTRIES
        ignorable = hf_bert.IGNORABLE
        emb = "embeddings.word_embeddings.weight"
        report.heads["pooler"] = "mapped" if has_pooler else "absent (BertEncoderV2's pooler keeps its initial weights)"
    else:
        tensors, prefix = hf_mobilebert.strip_prefix(tensors)
        enc = configs.mobilebert_encoder_config(cfg, config_label)
        entries = hf_mobilebert.encoder_entries(enc)
        mlm = hf_mobilebert.MLM_ENTRIES
        ignorable = hf_mobilebert.IGNORABLE
        emb = "embeddings.word_embeddings.weight"
        report.heads["pooler"] = "mapped" if enc.classifier_activation else "none (classifier_activation false)"
    if prefix:
        report.notes.append(f"source names carry the {prefix!r} prefix (stripped)")
    report.source_dtypes = sources.to_float32(tensors, lambda n: any(n.startswith(p) for p in ignorable), file_label)
    cast = {d: n for d, n in report.source_dtypes.items() if d != "float32"}
    if cast:
        read = ", ".join(f"{n} {d}" for d, n in sorted(cast.items()))
        how = "rounding float64" if "float64" in cast else "exact: every float16/bfloat16 value is a float32 value"
        report.notes.append(f"read {read} tensors and cast them to float32 ({how}); mbert trains and exports "
                            "in float32")
    if emb in tensors and tensors[emb].shape[0] != enc.vocab_size:
        raise MbertError(f"{emb} has {tensors[emb].shape[0]} rows but config.json vocab_size is {enc.vocab_size}",
                         hint="config.json and the weights come from different models; use the pair released together")
    vocab = _vocab(src, tensors.get(emb), emb)
    has_mlm = all(e.source in tensors for e in mlm)
    partial_mlm = not has_mlm and any(e.source in tensors for e in mlm)
    if partial_mlm:
        missing = next(e.source for e in mlm if e.source not in tensors)
        raise MbertError(f"tensor {missing!r} is missing from {file_label} (the MLM head is incomplete)",
                         hint="the file is damaged or edited; use the released file")
    pooling = _pooling(src.folder)

    def fill(pm) -> None:
        variables = named_variables(pm)
        apply(entries + (mlm if has_mlm else []), tensors, variables, enc.num_heads, report, file_label, config_label)
        used = {e.source for e in entries} | ({e.source for e in mlm} if has_mlm else set())
        reject_unexpected(tensors, used, ignorable, report, file_label, config_label)
        _heads(report, has_mlm, any(k.startswith("cls.seq_relationship.") for k in tensors), enc.mlm_activation)

    return Loaded(enc, report, fill, vocab, pooling)


def _load_tf1(src: sources.Source) -> Loaded:
    label = src.config.name
    cfg = configs.read_json(src.config)
    enc = configs.mobilebert_encoder_config(cfg, label)
    raw = sources.read_tf1(str(src.weights))
    report = ImportReport(source=str(src.weights), format="tf1", architecture="mobilebert")
    tensors = {}
    for name, value in raw.items():
        if tf_mobilebert.is_optimizer_slot(name):
            report.dropped[name] = "optimizer state"
        else:
            tensors[name] = value
    if not any(n.startswith("bert/encoder/layer_") for n in tensors):
        raise MbertError(f"{src.weights} holds no google-research MobileBERT tensors (bert/encoder/layer_N/...)",
                         hint="pass a MobileBERT TF1 checkpoint, or --format tf2 for a tf-models one")
    entries, shaped = tf_mobilebert.tf1_entries(tensors, enc)
    emb = "bert/embeddings/word_embeddings"
    vocab = _vocab(src, tensors.get(emb), emb)
    file_label = Path(src.weights).name

    def fill(pm) -> None:
        variables = named_variables(pm)
        for e in entries:
            if e.target not in variables:
                raise MbertError(f"unexpected tensor {e.source!r} in {file_label}: the model {label} describes has "
                                 f"no such weight ({e.target})",
                                 hint=f"{label} and the checkpoint come from different models; use the pair released together")
        has_mlm = any(e.target.startswith("masked_lm/") for e in entries)
        apply(entries, shaped, variables, enc.num_heads, report, file_label, label)
        needed = {k for k in variables if k.startswith("encoder/")}
        if has_mlm:
            needed |= {k for k in variables if k.startswith("masked_lm/")}
        missing = sorted(needed - {e.target for e in entries})
        if missing:
            raise MbertError(f"{file_label} has no tensor for {missing[0]} ({len(missing)} encoder weights missing)",
                             hint="the checkpoint is incomplete or from another config; use the files released together")
        reject_unexpected(tensors, {e.source for e in entries}, tf_mobilebert.TF1_IGNORABLE, report, file_label, label)
        _heads(report, has_mlm, any(k.startswith("cls/seq_relationship/") for k in tensors), enc.mlm_activation)
        report.heads["pooler"] = "mapped" if enc.classifier_activation else "none (classifier_activation false)"

    return Loaded(enc, report, fill, vocab, "cls")


def _load_tf2(src: sources.Source) -> Loaded:
    label = src.config.name
    cfg = configs.read_json(src.config)
    enc = configs.mobilebert_encoder_config(cfg, label)
    names = dict(sources.list_tf(str(src.weights)))
    report = ImportReport(source=str(src.weights), format="tf2", architecture="mobilebert")
    # The embedding table is saved once: under the encoder, or under the MLM head that shares it.
    emb_keys = [k for k in names if k.endswith("word_embedding/embeddings/.ATTRIBUTES/VARIABLE_VALUE")
                or k == "masked_lm/embedding_table/.ATTRIBUTES/VARIABLE_VALUE"]
    rows = names[emb_keys[0]][0] if emb_keys else None
    vocab = _vocab(src, None if rows is None else _Rows(rows), emb_keys[0] if emb_keys else "the word embedding")

    def fill(pm) -> None:
        prefix = str(src.weights)
        has_mlm = any(k.startswith("masked_lm/") for k in names)
        items = {"encoder": pm.encoder, **({"masked_lm": pm.masked_lm} if has_mlm else {})}
        try:
            status = tf.train.Checkpoint(**items).read(prefix)
            status.assert_existing_objects_matched()
            status.expect_partial()
        except (AssertionError, ValueError, tf.errors.OpError) as err:
            first = first_line(err)[:240]
            raise MbertError(f"{Path(prefix).name} does not fit the MobileBERT model {label} describes: {first}",
                             hint=f"{label} and the checkpoint come from different models; use the pair released together") from None
        variables = named_variables(pm)
        for key, var in variables.items():
            if key.startswith("encoder/") or (has_mlm and key.startswith("masked_lm/")):
                report.mapped.append({"source": "(object-based)", "target": key, "transform": "copy",
                                      "shape": list(var.shape)})
                report.parameters_mapped += int(var.shape.num_elements())
        for key in names:
            top = key.split("/", 1)[0]
            if top not in items and not key.startswith("_CHECKPOINTABLE_OBJECT_GRAPH"):
                report.dropped[key] = "not part of the encoder or MLM head (NSP head, optimizer or step)"
        _heads(report, has_mlm, any("next_sentence" in k or "seq_relationship" in k for k in names), enc.mlm_activation)
        report.heads["pooler"] = "mapped" if enc.classifier_activation else "none (classifier_activation false)"

    return Loaded(enc, report, fill, vocab, "cls")


class _Rows:
    """Stands for a tensor whose row count is known without reading it."""

    def __init__(self, rows: int):
        self.shape = (rows,)


def _vocab(src: sources.Source, embedding, name: str) -> Path:
    if embedding is None:
        raise MbertError(f"tensor {name!r} (the word embedding) is missing from {src.weights}",
                         hint="the file is incomplete or not a BERT-family checkpoint")
    sources.check_vocab(src.vocab, int(embedding.shape[0]), name)
    return src.vocab


def _pooling(folder: Path) -> str:
    """'mean' for sentence-transformers models that pool by mean (1_Pooling/config.json), else 'cls'."""
    pooling = folder / "1_Pooling" / "config.json"
    if pooling.is_file():
        cfg = configs.read_json(pooling)
        if cfg.get("pooling_mode_mean_tokens"):
            return "mean"
    return "cls"


def _heads(report: ImportReport, has_mlm: bool, has_nsp: bool, mlm_activation: str) -> None:
    report.heads["mlm"] = "mapped" if has_mlm else "absent (new MLM head: MLM metrics are meaningless until trained)"
    if has_mlm:
        report.notes.append(f"MLM head: its transform applies {mlm_activation}, as the source's does "
                            "(encoder.mlm_activation)")
    report.heads["nsp"] = "dropped (new NSP head)" if has_nsp else "absent (new NSP head)"
    report.new["next_sentence"] = "mbert's NSP head (pooler dense + logits) has no counterpart in the source"
    if not has_mlm:
        report.new["masked_lm"] = "the source has no MLM head"


def _write_run(run: Path, loaded: Loaded, pm) -> None:
    """config.yaml + vocab + import.json + the stage checkpoint, in a temporary folder renamed onto `run`."""
    enc = loaded.encoder
    enc.classifier_pooling = loaded.pooling
    role = "teacher" if enc.kind == "bert" else "student"
    cfg = RunConfig(preset="", role=role, encoder=enc)
    cfg.data.vocab = "shipped" if _is_shipped(loaded.vocab, enc.vocab_size) else str((run / "vocab.txt").resolve())
    cfg.data.corpus = "movies"
    cfg.export.seq_len = min(cfg.export.seq_len, enc.max_sequence_length)
    for key, value in FINETUNE_SETTINGS.items():
        setattr(cfg.finetune, key, value)
    # The fast fine-tune is the default: batches grouped by length, seq_len fitted to the task.
    cfg.data.group_by_length = True
    cfg.data.seq_len = _task_seq_len(loaded, cfg, enc.max_sequence_length)
    cfg.validate()
    with atomic_dir(run, "import") as tmp:
        stage = StageDir(tmp, role).make()
        step = tf.Variable(0, dtype=tf.int64, name="global_step")
        manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=pm.model, step=step),
                                             str(stage.checkpoints), max_to_keep=1)
        manager.save(checkpoint_number=0)
        shutil.copyfile(loaded.vocab, tmp / "vocab.txt")
        save_run_config(cfg, tmp / "config.yaml")
        loaded.report.notes.append(f"written as stage {role!r}; fine-tune with --init {run / role}")
        write_json(tmp / "import.json", loaded.report.to_dict())


def _task_seq_len(loaded: Loaded, cfg, cap: int) -> int:
    """data.seq_len for fine-tuning on the run's task data (`length_batches.fitted_seq_len` of its
    tokenized training sentences); 128 (or the position table) when the data cannot be read."""
    try:
        train, _dev, _labels = load_classification(cfg.data.task_data)
    except MbertError as err:
        loaded.report.notes.append(f"data.seq_len not fitted to the task ({err.message}): "
                                   f"{min(128, cap)}")
        return min(128, cap)
    tok = WordPieceTokenizer(loaded.vocab)
    lengths = length_batches.token_lengths(tok, [e.text_a for e in train], [e.text_b for e in train])
    seq_len = length_batches.fitted_seq_len(lengths, cap)
    loaded.report.notes.append(
        f"fine-tuning: data.seq_len={seq_len} holds {100 * float((lengths <= seq_len).mean()):.1f}% of the "
        f"{cfg.data.task_data} task's {len(lengths)} training sentences whole; batches grouped by length "
        "(data.group_by_length)")
    return seq_len


def _is_shipped(vocab: Path, size: int) -> bool:
    if size != BERT_UNCASED_SIZE:
        return False
    try:
        return Path(vocab).read_bytes() == resolve_vocab("shipped", size).read_bytes()
    except (MbertError, OSError):
        return False
