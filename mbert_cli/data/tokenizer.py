"""WordPiece tokenizer over tensorflow-text's `BertTokenizer` (lower-cased, BERT uncased rules)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mbert_cli.data.vocab import read_vocab


class WordPieceTokenizer:
    """Turns text into WordPiece ids with the exact vocab a model was trained with.

    Args:
        vocab_path: a vocab.txt, one token per line (line number = id); it must hold
            [PAD] [UNK] [CLS] [SEP] [MASK].
    """

    def __init__(self, vocab_path: str | Path):
        import tensorflow as tf  # noqa: PLC0415
        import tensorflow_text as tf_text  # noqa: PLC0415

        self.vocab_path = Path(vocab_path)
        self.vocab = read_vocab(self.vocab_path)
        self._index = {tok: i for i, tok in enumerate(self.vocab)}
        self.pad_id = self._index["[PAD]"]
        self.unk_id = self._index["[UNK]"]
        self.cls_id = self._index["[CLS]"]
        self.sep_id = self._index["[SEP]"]
        self.mask_id = self._index["[MASK]"]
        # A static table from the list (not the file) so ids are the line numbers even
        # when a vocab repeats a token.
        table = tf.lookup.StaticVocabularyTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.vocab), tf.range(len(self.vocab), dtype=tf.int64)),
            num_oov_buckets=1)
        self._tf = tf
        self._tokenizer = tf_text.BertTokenizer(table, token_out_type=tf.int64, lower_case=True,
                                                unknown_token="[UNK]")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids of each text (no [CLS]/[SEP]); one batched TF call per 4096 texts."""
        out: list[list[int]] = []
        for start in range(0, len(texts), 4096):
            ragged = self._tokenizer.tokenize(self._tf.constant(list(texts[start:start + 4096]), self._tf.string))
            ragged = ragged.merge_dims(-2, -1)
            # Slicing flat numpy values is much faster than RaggedTensor.to_list().
            flat = ragged.flat_values.numpy().tolist()
            splits = ragged.row_splits.numpy().tolist()
            out.extend(flat[splits[i]:splits[i + 1]] for i in range(len(splits) - 1))
        return out

    def ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        """The vocab entries of `ids` (ids outside the vocab read as [UNK])."""
        n = len(self.vocab)
        return [self.vocab[i] if 0 <= int(i) < n else "[UNK]" for i in ids]
