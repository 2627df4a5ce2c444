"""WordPiece tokenizer with the rules of the deployed one: MediaPipe Tasks' BERT preprocessor.

An exported app-ready file is tokenized on the phone by MediaPipe's C++ `BertTokenizer`
(`mediapipe/tasks/cc/text/tokenizers/bert_tokenizer.h`, called by
`BertPreprocessorCalculator`), so mbert trains and evaluates on exactly what that code
produces, not on BERT's Python `BasicTokenizer` rules. The differences from
`tensorflow_text.BertTokenizer(lower_case=True)` (what mbert used before):
- only ASCII A-Z is lower-cased (`absl::AsciiStrToLower`); no Unicode case folding, no
  NFD/NFKC normalisation, no accent stripping: "Café" -> "café" (in BERT's uncased vocab: [UNK]);
- words split on ASCII whitespace only (RE2's `\\s`): a no-break or ideographic space is
  part of a word; control characters are not removed;
- punctuation is ASCII punctuation plus Unicode category P (so "…" is one token, "™" is
  not punctuation), and the CJK ideograph ranges are single-character words (as in BERT);
- WordPiece greedy longest match with `##`, a word over 100 bytes is [UNK].
The splitting and WordPiece steps run tensorflow-text's own kernels (`regex_split`,
`WordpieceTokenizer`), the same C++ the MediaPipe tokenizer calls, with its patterns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf
import tensorflow_text as tf_text

from mbert_cli.data.vocab import read_vocab

# MediaPipe's kDefaultDelimRe / kDefaultIncludeDelimRe: split on these, keep all but whitespace.
_PUNCT_AND_CJK = (r"[!-/]|[:-@]|[\[-`]|[{-~]|[\p{P}]|[\x{4E00}-\x{9FFF}]|[\x{3400}-\x{4DBF}]"
                  r"|[\x{20000}-\x{2A6DF}]|[\x{2A700}-\x{2B73F}]|[\x{2B740}-\x{2B81F}]"
                  r"|[\x{2B820}-\x{2CEAF}]|[\x{F900}-\x{FAFF}]|[\x{2F800}-\x{2FA1F}]")
DELIM_PATTERN = rf"(\s+|{_PUNCT_AND_CJK})"
KEEP_DELIM_PATTERN = rf"({_PUNCT_AND_CJK})"
MAX_BYTES_PER_WORD = 100  # kDefaultMaxBytesPerToken
MAX_CHARS_PER_SUBTOKEN = 100  # kDefaultMaxCharsPerSubToken


class WordPieceTokenizer:
    """Turns text into WordPiece ids with the exact vocab a model was trained with.

    Args:
        vocab_path: a vocab.txt, one token per line (line number = id); it must hold
            [PAD] [UNK] [CLS] [SEP] [MASK].
    """

    def __init__(self, vocab_path: str | Path):
        self.vocab_path = Path(vocab_path)
        self.vocab = read_vocab(self.vocab_path)
        self._index = {tok: i for i, tok in enumerate(self.vocab)}
        self.pad_id = self._index["[PAD]"]
        self.unk_id = self._index["[UNK]"]
        self.cls_id = self._index["[CLS]"]
        self.sep_id = self._index["[SEP]"]
        self.mask_id = self._index["[MASK]"]
        # A static table from the list (not the file), so ids are line numbers; a repeated
        # token gets its last line, as in MediaPipe's vocab map (FlatHashMapBackedWordpiece).
        last = {tok: i for i, tok in enumerate(self.vocab)}
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(last)), tf.constant(list(last.values()), tf.int64)),
            default_value=-1)
        self._tf = tf
        self._tf_text = tf_text
        self._wordpiece = tf_text.WordpieceTokenizer(
            table, suffix_indicator="##", max_bytes_per_word=MAX_BYTES_PER_WORD,
            max_chars_per_token=MAX_CHARS_PER_SUBTOKEN, token_out_type=tf.int64, unknown_token="[UNK]",
            split_unknown_characters=False)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def words(self, texts: Sequence[str]):
        """The words MediaPipe's preprocessor hands to WordPiece (ASCII-lowered, split): a RaggedTensor."""
        tf = self._tf
        lowered = tf.strings.lower(tf.constant(list(texts), tf.string))  # encoding '': ASCII only
        tokens, _begin, _end = self._tf_text.regex_split_with_offsets(lowered, DELIM_PATTERN, KEEP_DELIM_PATTERN)
        return tokens

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """WordPiece ids of each text (no [CLS]/[SEP]); one batched TF call per 4096 texts."""
        out: list[list[int]] = []
        for start in range(0, len(texts), 4096):
            ragged = self._wordpiece.tokenize(self.words(texts[start:start + 4096])).merge_dims(-2, -1)
            # Slicing flat numpy values is much faster than RaggedTensor.to_list().
            flat = ragged.flat_values.numpy().tolist()
            splits = ragged.row_splits.numpy().tolist()
            out.extend(flat[splits[i]:splits[i + 1]] for i in range(len(splits) - 1))
        return out

    def ids_to_tokens(self, ids: Sequence[int]) -> list[str]:
        """The vocab entries of `ids` (ids outside the vocab read as [UNK])."""
        n = len(self.vocab)
        return [self.vocab[i] if 0 <= int(i) < n else "[UNK]" for i in ids]
