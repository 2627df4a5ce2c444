"""`first_line`: the one way a library exception becomes part of a one-line error."""

import pytest

from mbert_cli.errors import MbertError, first_line


@pytest.mark.parametrize(("err", "expected"), [
    (ValueError("bad shape\n  File x.py, line 3\n    raise"), "bad shape"),
    (RuntimeError("\n\n   the real reason  \nmore"), "the real reason"),
    (OSError(28, "No space left on device"), "[Errno 28] No space left on device"),
    (KeyError("layer_1"), "'layer_1'"),
])
def test_first_line_is_the_first_non_blank_line(err, expected):
    assert first_line(err) == expected


@pytest.mark.parametrize("err", [ValueError(), RuntimeError(""), AssertionError("  \n \n"), TimeoutError()])
def test_an_empty_message_gives_the_type_name(err):
    assert first_line(err) == type(err).__name__


def test_mbert_error_keeps_its_message_and_hint():
    assert first_line(MbertError("no data", hint="run prepare")) == "no data (run prepare)"


def test_a_reader_error_without_a_message_is_still_one_line(tmp_path, monkeypatch):
    """`read_safetensors` used to index the first line of an empty message (IndexError, a traceback)."""
    import safetensors.numpy

    from mbert_cli.importing.sources import read_safetensors

    def load_file(path):
        raise ValueError()

    monkeypatch.setattr(safetensors.numpy, "load_file", load_file)
    with pytest.raises(MbertError) as caught:
        read_safetensors(tmp_path / "model.safetensors")
    assert caught.value.message == f"cannot read {tmp_path / 'model.safetensors'}: ValueError"
