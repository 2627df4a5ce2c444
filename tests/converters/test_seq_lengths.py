"""Exports that serve several sequence lengths: parsing, signatures, and parity across lengths.

The property every length must keep: a sentence's outputs do not depend on how much padding
follows it, so the same sentence gives the same outputs at every length it fits in.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from converters.lengths import (
    LengthSpec,
    bucket_for,
    calibration_windows,
    parse_lengths,
    signature_key,
    truncate_rows,
)
from mbert_cli.errors import MbertError
from tests.converters.export_helpers import from_arrays, sharpen, table_counts

# --- parsing and bucket choice (no TensorFlow) ---------------------------------------------

def test_parse_lengths_list_single_and_dynamic():
    assert parse_lengths("64,32,128", 128) == LengthSpec((32, 64, 128))
    assert parse_lengths("128", 512).multi is False
    assert parse_lengths(96, 128).lengths == (96,)
    spec = parse_lengths("dynamic", 512)
    assert spec.dynamic and spec.max_len == 512 and spec.file_tag() == "dyn"
    assert parse_lengths(["32", "64"], 128).signature_keys() == {"seq32": 32, "seq64": 64}
    assert parse_lengths("32", 128).signature_keys() == {"serving_default": 32}


@pytest.mark.parametrize("text, message", [
    ("32,600", "length 600 is beyond the model's position table (512 positions)"),
    ("0", "length 0 is not positive"),
    ("-8", "length -8 is not positive"),
    ("abc", "'abc' is not a whole number"),
    ("32,dynamic", "'dynamic' is not a whole number (dynamic must be alone)"),
    ("32,,64", "has an empty item"),
    ("32,64,32", "lists 32 more than once"),
])
def test_parse_lengths_rejects_bad_input(text, message):
    with pytest.raises(MbertError) as err:
        parse_lengths(text, 512)
    assert message in err.value.message
    assert err.value.hint


def test_bucket_is_the_smallest_fitting_length():
    assert bucket_for(1, (32, 64, 128)) == 32
    assert bucket_for(32, (32, 64, 128)) == 32
    assert bucket_for(33, (32, 64, 128)) == 64
    assert bucket_for(129, (32, 64, 128)) is None
    assert signature_key(32) == "seq32"


def test_truncate_rows_keeps_real_tokens():
    rows = {"input_word_ids": np.arange(8, dtype=np.int32).reshape(1, 8), "input_mask": np.ones((1, 8), np.float32)}
    cut = truncate_rows(rows, 4)
    assert cut["input_word_ids"].tolist() == [[0, 1, 2, 3]] and cut["input_mask"].shape == (1, 4)
    with pytest.raises(MbertError) as err:
        truncate_rows(cut, 8)
    assert err.value.message == "rows of 4 tokens cannot be cut to 8" and err.value.hint


def test_calibration_windows_cover_every_token_once_padding_once():
    ids = np.arange(1, 11, dtype=np.int32).reshape(1, 10).repeat(2, 0)
    mask = np.ones((2, 10), np.float32)
    ids[1, 3:] = 0
    mask[1, 3:] = 0
    w = calibration_windows({"input_word_ids": ids, "input_mask": mask}, 4)
    # windows start at 0, 4 and 6 (the last ends at the row's end); row 1 keeps its first
    # window and one all-padding window (the padding id the full rows hold), not two.
    assert w["input_word_ids"].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8], [7, 8, 9, 10],
                                            [1, 2, 3, 0], [0, 0, 0, 0]]
    assert set(w["input_word_ids"].ravel()) == set(ids.ravel())
    assert calibration_windows({"input_word_ids": ids, "input_mask": mask}, 10)["input_word_ids"].shape == (2, 10)
    with pytest.raises(MbertError) as err:
        calibration_windows({"input_word_ids": ids, "input_mask": mask}, 12)
    assert err.value.message == "rows of 10 tokens cannot be cut to 12" and err.value.hint


# --- conversion (nano model, seconds) ------------------------------------------------------

@pytest.fixture(scope="module")
def nano():
    import tensorflow as tf

    from converters.export_model import build_export_model as build_stage_model
    from mbert_cli.config import resolve_config

    tf.keras.utils.set_random_seed(3)
    cfg = resolve_config("nano-student")
    model = build_stage_model(cfg, "finetune-classification")[1]
    sharpen(model)
    return cfg, model


def _sentences(cfg, n: int, real: int, length: int, seed: int = 5) -> dict[str, np.ndarray]:
    """`n` rows with `real` tokens ([CLS]-like first id) and zero padding up to `length`."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, length), np.int32)
    ids[:, :real] = rng.integers(5, cfg.encoder.vocab_size, size=(n, real))
    ids[:, 0] = 2
    mask = np.zeros((n, length), np.float32)
    mask[:, :real] = 1.0
    types = np.zeros((n, length), np.int32)
    types[:, real // 2:real] = 1
    return {"input_word_ids": ids, "input_type_ids": types, "input_mask": mask}


def _run(content: bytes, key: str, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from converters import verify

    runner, _ = verify.load_signature(content, key)
    return verify.run_tflite(runner, rows)


@pytest.fixture(scope="module")
def multi_files(nano):
    """float32 and int8 files with signatures seq16 and seq32, plus a seq32-only float32 file."""
    from converters import ExportOptions, convert

    cfg, model = nano
    data = from_arrays(_sentences(cfg, 48, 12, 32), None, 24, 24, "test")
    opts = ExportOptions(modes=("none", "int8"), seq_len=32, lengths=LengthSpec((16, 32)), representative=24)
    files = {f.mode: f for f in convert(model, model_name="m", options=opts, data=data)}
    (single,) = convert(model, model_name="m", options=ExportOptions(modes=("none",), seq_len=32), data=data)
    return files, single


def test_multi_length_file_has_one_signature_per_length(multi_files):
    files, single = multi_files
    f = files["none"]
    assert f.file == "m_none_seq16-32.tflite" and f.seq_lens == [16, 32] and f.seq_len == 32
    assert [s["key"] for s in f.signatures] == ["seq16", "seq32"]
    assert [s["inputs"]["input_word_ids"]["shape"] for s in f.signatures] == [[1, 16], [1, 32]]
    assert all(s["parity"]["max_abs_diff"] < 1e-3 for s in f.signatures)
    entry = f.manifest_entry()
    assert entry["seq_lens"] == [16, 32] and entry["size_bytes"] == len(f.content)
    assert [s["seq_len"] for s in entry["signatures"]] == [16, 32]
    # The weights are written once: two signatures cost far less than two files.
    assert f.size_bytes < 1.5 * single.size_bytes
    assert single.file == "m_none_seq32.tflite" and single.signatures[0]["key"] == "serving_default"


def test_outputs_do_not_depend_on_padding_float(nano, multi_files):
    """A 12-token sentence: seq16 and seq32 signatures agree with each other (1e-5) and with
    TensorFlow at 32, i.e. padding never changes the real positions' result."""
    cfg, model = nano
    files, single = multi_files
    rows32 = _sentences(cfg, 6, 12, 32, seed=11)
    rows16 = truncate_rows(rows32, 16)
    at16 = _run(files["none"].content, "seq16", rows16)["logits"]
    at32 = _run(files["none"].content, "seq32", rows32)["logits"]
    fixed32 = _run(single.content, "serving_default", rows32)["logits"]
    tf32 = model(rows32, training=False)["logits"].numpy()
    assert np.abs(at16 - at32).max() <= 1e-5
    assert np.abs(at32 - fixed32).max() <= 1e-5
    assert np.abs(at32 - tf32).max() <= 1e-4
    assert np.abs(at16).max() > 1e-2  # the comparison is between real, non-trivial logits


def test_outputs_do_not_depend_on_padding_int8(nano, multi_files):
    """int8: each signature was calibrated on its own rows, so the scales may differ by a
    little; the two lengths must agree within the int8 output step (and on every top-1)."""
    cfg, _model = nano
    files, _ = multi_files
    rows32 = _sentences(cfg, 6, 12, 32, seed=11)
    at16 = _run(files["int8"].content, "seq16", truncate_rows(rows32, 16))["logits"]
    at32 = _run(files["int8"].content, "seq32", rows32)["logits"]
    scale = np.abs(at32).max()
    assert np.abs(at16 - at32).max() <= 0.05 * scale
    assert (np.argmax(at16, -1) == np.argmax(at32, -1)).all()


def test_int8_keeps_attention_float_in_every_signature(multi_files):
    """The float-attention int8 recipe must reach every length's subgraph, not only the
    first: an int8 mask add splits XNNPACK's graph into dozens of partitions."""
    from ai_edge_litert import schema_py_generated as schema

    from converters.attention_mask import MASKED_SCORES_NAME

    files, _ = multi_files
    model = schema.Model.GetRootAs(files["int8"].content, 0)
    assert model.SubgraphsLength() == 2
    for s in range(model.SubgraphsLength()):
        sub = model.Subgraphs(s)
        # names are made unique across subgraphs with a counter: `..._scores`, `..._scores1`, ...
        types = [sub.Tensors(t).Type() for t in range(sub.TensorsLength())
                 if re.search(MASKED_SCORES_NAME + r"\d*$", sub.Tensors(t).Name().decode())]
        assert types == [schema.TensorType.FLOAT32] * 4, (s, types)  # one mask add per layer, all float


def test_dynamic_file_resizes_and_matches_the_fixed_signatures(nano, multi_files):
    """`--seq-len dynamic`: one resizable signature, checked at two lengths; resized to 16
    and 32 it gives the multi-length file's outputs."""
    from converters import ExportOptions, convert

    cfg, model = nano
    data = from_arrays(_sentences(cfg, 16, 12, 32), None, 8, 8, "test")
    (f,) = convert(model, model_name="m", data=data,
                   options=ExportOptions(seq_len=32, lengths=LengthSpec((128,), dynamic=True)))
    assert f.file == "m_none_seqdyn.tflite" and f.dynamic and f.seq_len == 128 and f.seq_lens == []
    assert [(s["key"], s["seq_len"], s["checked_at"]) for s in f.signatures] == \
        [("serving_default", None, 8), ("serving_default", None, 32)]
    assert f.signatures[0]["inputs"]["input_word_ids"]["shape"] == [1, -1]
    files, _ = multi_files
    rows32 = _sentences(cfg, 4, 12, 32, seed=11)
    for n, key in ((16, "seq16"), (32, "seq32")):
        rows = truncate_rows(rows32, n)
        got = _run(f.content, "serving_default", rows)["logits"]
        assert np.abs(got - _run(files["none"].content, key, rows)["logits"]).max() <= 1e-5


def _int8_table_buffers(content: bytes, table_bytes: int) -> set[int]:
    """Indices of the int8 buffers as large as the word table (one per stored copy)."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    found = set()
    for s in range(model.SubgraphsLength()):
        sub = model.Subgraphs(s)
        for t in range(sub.TensorsLength()):
            tensor = sub.Tensors(t)
            if tensor.Type() == schema.TensorType.INT8 and \
                    model.Buffers(tensor.Buffer()).DataLength() == table_bytes:
                found.add(tensor.Buffer())
    return found


def test_int8_multi_length_file_stores_the_word_table_once():
    """The int8 table's scale comes from the calibrated lookup range; a word only seen past
    position 16 (here one with a 10x larger embedding) must not give the seq16 signature its
    own scale and so its own copy of the table (mobilebert: +3.9 MB, 1.21x the single file)."""
    import tensorflow as tf

    from converters import ExportOptions, convert
    from converters.export_model import build_export_model
    from mbert_cli.config import resolve_config

    tf.keras.utils.set_random_seed(4)
    cfg = resolve_config("nano-student")
    model = build_export_model(cfg, "finetune-classification")[1]
    (table,) = [w for w in model.weights if w.shape == (cfg.encoder.vocab_size, cfg.encoder.embedding_size)]
    hot = 7
    table.assign(tf.tensor_scatter_nd_update(table, [[hot]], [tf.fill([cfg.encoder.embedding_size], 0.4)]))
    rows = _sentences(cfg, 32, 28, 32, seed=9)
    rows["input_word_ids"][:, :16][rows["input_word_ids"][:, :16] == hot] = 8
    rows["input_word_ids"][:, 20] = hot  # only the windows past 16 tokens see it
    data = from_arrays(rows, None, 16, 16, "test")
    (multi,) = convert(model, model_name="m", data=data,
                       options=ExportOptions(modes=("int8",), seq_len=32, lengths=LengthSpec((16, 32)),
                                             representative=16))
    (single,) = convert(model, model_name="m", data=data,
                        options=ExportOptions(modes=("int8",), seq_len=32, representative=16))
    table_bytes = cfg.encoder.vocab_size * cfg.encoder.embedding_size
    assert len(_int8_table_buffers(single.content, table_bytes)) == 1
    assert len(_int8_table_buffers(multi.content, table_bytes)) == 1
    # The second signature costs its graph and a few biases, not a second table.
    assert multi.size_bytes - single.size_bytes < table_bytes / 2
    assert multi.signatures[0]["parity"]["top1_agreement"] == 1.0


# --- one stored quantization table per distinct value (converters.shared_tables) ----------

def _differences(a, b, path: str = "model") -> list[str]:
    """Field-by-field comparison of two schema object-API trees (ModelT ...): what differs."""
    if hasattr(a, "__dict__") and hasattr(b, "__dict__"):
        return [d for k in vars(a) if not k.startswith("_")
                for d in _differences(getattr(a, k), getattr(b, k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a), np.asarray(b)
        return [] if x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() else [path]
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


def _model_object(content: bytes):
    from ai_edge_litert import schema_py_generated as schema

    return schema.ModelT.InitFromObj(schema.Model.GetRootAs(content, 0))


@pytest.fixture(scope="module")
def unshared_int8(nano, multi_files):
    """The int8 multi-length file as the converter writes it (the rewrite turned off), from
    the same model and data as `multi_files`' int8 file."""
    from converters import ExportOptions, convert
    from converters import converter as converter_mod

    cfg, model = nano
    data = from_arrays(_sentences(cfg, 48, 12, 32), None, 24, 24, "test")
    opts = ExportOptions(modes=("int8",), seq_len=32, lengths=LengthSpec((16, 32)), representative=24)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(converter_mod, "share_quantization", lambda content: content)
        (raw,) = convert(model, model_name="m", options=opts, data=data)
    return raw.content


def test_int8_multi_length_file_stores_each_quantization_table_once(nano, multi_files, unshared_int8):
    """The converter writes each subgraph's weights their own per-channel tables (equal
    bytes: same weights); the exported file stores each distinct table once, changes no
    other field, and every signature gives exactly the un-rewritten file's outputs."""
    from converters.shared_tables import quantization_key

    cfg, _model = nano
    files, _ = multi_files
    shared = files["int8"]
    stored_before, refs = table_counts(unshared_int8)
    stored_after, refs_after = table_counts(shared.content)
    distinct = {quantization_key(t.quantization) for sub in _model_object(unshared_int8).subgraphs
                for t in sub.tensors if t.quantization is not None}
    assert refs_after == refs and stored_before == refs  # before: one table per tensor
    assert stored_after == len(distinct) < stored_before
    assert len(shared.content) < len(unshared_int8)
    assert shared.size_bytes == len(shared.content) == shared.manifest_entry()["size_bytes"]
    assert _differences(_model_object(unshared_int8), _model_object(shared.content)) == []
    rows32 = _sentences(cfg, 4, 12, 32, seed=13)
    for key, n in (("seq16", 16), ("seq32", 32)):
        rows = truncate_rows(rows32, n)
        got, want = _run(shared.content, key, rows), _run(unshared_int8, key, rows)
        assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)


def test_share_quantization_leaves_single_subgraph_files_alone(multi_files):
    """One subgraph: nothing repeated across signatures, the converter's bytes are kept."""
    from converters.shared_tables import share_quantization

    _files, single = multi_files
    assert share_quantization(single.content) is single.content
    stored, refs = table_counts(single.content)
    assert stored == refs


def test_batched_reference_matches_each_signature_row_by_row(nano):
    """The checks' TF reference is computed in batches (`ServingFunction.batched`); it must be
    what each fixed-length signature gives row by row, rows of different real lengths alike."""
    from converters import verify
    from converters.lengths import truncate_rows
    from converters.signatures import build_serving_functions

    cfg, model = nano
    serving = build_serving_functions(model, {"seq16": 16, "seq32": 32}, max_len=32)
    rows = {k: np.concatenate([a, b]) for (k, a), b in
            zip(_sentences(cfg, 5, 12, 32).items(), _sentences(cfg, 6, 30, 32, seed=6).values(), strict=True)}
    for fn, length in serving.functions.values():
        short = truncate_rows(rows, length)
        one_by_one = verify.run_concrete(fn, short)
        batched = verify.run_batched(serving.batched, short, batch=4)  # 11 rows: a ragged last batch
        assert set(batched) == set(one_by_one)
        for name, ref in one_by_one.items():
            assert batched[name].shape == ref.shape
            np.testing.assert_allclose(batched[name], ref, rtol=1e-4, atol=1e-5)
