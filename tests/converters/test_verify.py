"""Verification gates: Flex detection, metric gate, parity maths, atomic writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mbert_cli.errors import MbertError

SEQ = 8


def _flex_model():
    """A tiny model whose MatrixInverse has no TFLite builtin: it can only become FlexMatrixInverse."""
    import tensorflow as tf
    import tf_keras

    inputs = {"input_word_ids": tf_keras.Input((None,), dtype="int32", name="input_word_ids"),
              "input_mask": tf_keras.Input((None,), dtype="float32", name="input_mask"),
              "input_type_ids": tf_keras.Input((None,), dtype="int32", name="input_type_ids")}

    def body(m_in):
        m = tf.linalg.diag(m_in + 1.0)
        return tf.reduce_sum(tf.linalg.inv(m), axis=-1)[:, :2]

    logits = tf_keras.layers.Lambda(body)(inputs["input_mask"])
    return tf_keras.Model(inputs, {"logits": logits})


@pytest.fixture(scope="module")
def flex_data():
    from converters import data as data_mod

    return data_mod.synthetic(SEQ, 50, representative=4, heldout=4)


def test_flex_op_fails_export_naming_it(flex_data, tmp_path):
    from converters.converter import ExportOptions, convert

    with pytest.raises(MbertError) as err:
        convert(_flex_model(), model_name="flex", options=ExportOptions(seq_len=SEQ), data=flex_data)
    assert "FlexMatrixInverse" in err.value.message
    assert "--allow-flex" in err.value.hint


def test_allow_flex_lets_it_through_and_records_it(flex_data):
    from converters.converter import ExportOptions, convert

    (f,) = convert(_flex_model(), model_name="flex", options=ExportOptions(seq_len=SEQ, allow_flex=True),
                   data=flex_data)
    assert f.non_builtin_ops == ["FlexMatrixInverse"] and f.ops["FlexMatrixInverse"] == 1


def test_op_histogram_names_builtins_and_flex_detection():
    from converters.verify import non_builtin_ops

    assert non_builtin_ops({"FULLY_CONNECTED": 3, "FlexEinsum": 1, "MyCustom": 2}) == ["FlexEinsum", "MyCustom"]
    assert non_builtin_ops({"FULLY_CONNECTED": 3, "GELU": 1}) == []


def test_parity_figures():
    from converters.verify import ParityThresholds, parity

    ref = {"logits": np.array([[1.0, 2.0], [3.0, -1.0]])}
    p = parity(ref, {"logits": np.array([[1.0, 2.1], [-3.0, 1.0]])})
    assert p.max_abs_diff == pytest.approx(6.0)
    assert p.top1_agreement == 0.5
    assert p.min_cosine == pytest.approx(-1.0)
    assert p.cosine == pytest.approx(-4.8 / (15 ** 0.5 * 15.41 ** 0.5))
    assert ParityThresholds().check("int8", p).startswith("cosine")
    assert ParityThresholds().check("none", parity(ref, ref)) is None


def _converted(mode="int8", content=b"x" * 10):
    from converters.converter import ConvertedFile

    return ConvertedFile(file=f"m_{mode}_seq8.tflite", mode=mode, seq_len=8, content=content, sha256="0",
                         size_bytes=len(content), signature={}, ops={}, non_builtin_ops=[], parity=None,
                         task_metric=None, gate_failures=[])


def test_metric_gate_fails_and_force_records(monkeypatch):
    """A quantized file that loses more than --max-drop points is refused, with the figures."""
    from converters import converter as conv
    from converters.data import ExportData, accuracy_points

    content = _tiny_tflite()
    labels = np.array([0, 1, 0, 1])
    data = ExportData({}, {"x": np.zeros((4, 2), np.float32)}, labels, "test", "accuracy", accuracy_points)
    monkeypatch.setattr(conv.verify, "load_signature", lambda c, k: (None, _Sig()))
    # The quantized file gets 2 of 4 right: 50 points against TensorFlow's 100.
    monkeypatch.setattr(conv.verify, "run_tflite", lambda r, x: {"logits": np.array([[1, 0], [0, 1], [0, 1], [1, 0.]])})
    reference = {"logits": np.array([[1, 0], [0, 1], [1, 0], [0, 1.]])}
    opts = conv.ExportOptions(modes=("int8",), seq_len=8, max_drop=1.0)
    with pytest.raises(MbertError) as err:
        conv.verify_bytes(content, "int8", "m", opts, data, reference, 100.0, lambda m: None)
    assert "accuracy drops 50.00 points (100.00 -> 50.00) > --max-drop 1" in err.value.message
    opts.force = True
    f = conv.verify_bytes(content, "int8", "m", opts, data, reference, 100.0, lambda m: None)
    assert f.task_metric["drop"] == 50.0 and f.gate_failures


class _Sig:
    def to_dict(self):
        return {}


def _tiny_tflite() -> bytes:
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 2], tf.float32)])
    def f(x):
        return {"logits": x * 2.0}

    return tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()]).convert()


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    """An exception mid-write (Ctrl-C, full disk) leaves neither the final name nor a temp file."""
    from converters.converter import write_files

    real = Path.write_bytes

    def half_then_interrupt(self, data):
        real(self, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_files(tmp_path, [_converted()], {})
    assert list(tmp_path.iterdir()) == []


def test_killed_export_leaves_no_file_under_final_name(tmp_path):
    """SIGKILL while the flatbuffer is being written: the final name never appears."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        from test_verify import _converted
        from converters.converter import write_files
        real = Path.write_bytes
        def slow(self, data):
            with open(self, "wb") as f:
                f.write(data[:5]); f.flush()
                print("writing", flush=True)
                time.sleep(60)
                f.write(data[5:])
        Path.write_bytes = slow
        write_files({str(tmp_path)!r}, [_converted()], {{}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (tmp_path / "m_int8_seq8.tflite").exists()
    assert not (tmp_path / "manifest.json").exists()
