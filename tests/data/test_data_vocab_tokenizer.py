"""Vocab resolution/validation/building and the WordPiece tokenizer."""

import pytest

from mbert_cli.data.tokenizer import WordPieceTokenizer
from mbert_cli.data.vocab import NANO_VOCAB, SPECIAL_TOKENS, build_vocab, resolve_vocab
from mbert_cli.errors import MbertError


def test_shipped_nano_vocab_has_4096_lines_and_the_specials_first():
    lines = NANO_VOCAB.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4096 and len(set(lines)) == 4096
    assert lines[:5] == SPECIAL_TOKENS
    assert resolve_vocab("shipped", 4096) == NANO_VOCAB


def test_bert_uncased_vocab_resolves_at_30522():
    path = resolve_vocab("shipped", 30522)
    assert path.name == "vocab.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30522 and lines[0] == "[PAD]" and lines[103] == "[MASK]"


def test_no_shipped_vocab_of_other_sizes():
    with pytest.raises(MbertError, match="no shipped vocab of size 5000"):
        resolve_vocab("shipped", 5000)


def test_vocab_missing_specials_names_them(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(["[PAD]", "[UNK]"] + [f"w{i}" for i in range(98)]) + "\n", encoding="utf-8")
    with pytest.raises(MbertError) as err:
        resolve_vocab(str(path), 100)
    assert "[CLS] [SEP] [MASK]" in err.value.message


def test_vocab_size_mismatch_names_both_numbers(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(SPECIAL_TOKENS + [f"w{i}" for i in range(95)]) + "\n", encoding="utf-8")
    with pytest.raises(MbertError) as err:
        resolve_vocab(str(path), 4096)
    assert "100 tokens" in err.value.message and "4096" in err.value.message
    assert "encoder.vocab_size=100" in err.value.hint


def test_nano_tokenization_hand_checked():
    tok = WordPieceTokenizer(NANO_VOCAB)
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    (ids,) = tok.tokenize(["The LORD is my shepherd; I shall not want."])
    assert tok.ids_to_tokens(ids) == ["the", "lord", "is", "my", "shepherd", ";", "i", "shall", "not", "want", "."]
    (ids,) = tok.tokenize(["Zebulonites"])  # rare word: split into WordPieces, none unknown
    pieces = tok.ids_to_tokens(ids)
    assert "".join(p.removeprefix("##") for p in pieces) == "zebulonites" and len(pieces) > 1
    assert tok.tokenize([""]) == [[]]


def test_bert_uncased_tokenization_matches_bert_readme():
    tok = WordPieceTokenizer(resolve_vocab("shipped", 30522))
    (ids,) = tok.tokenize(["UNAFFABLE"])  # BERT's README example: lower-cased, then WordPieces
    assert tok.ids_to_tokens(ids) == ["una", "##ffa", "##ble"]


def test_build_vocab_has_exact_size_and_specials(tmp_path):
    docs = [["the cat sat on the mat.", "the dog sat on the log."], ["a cat and a dog."]] * 5
    path = build_vocab(docs, 300, tmp_path / "v.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300 and lines[:5] == SPECIAL_TOKENS
    assert "cat" in lines and "dog" in lines and lines[-1].startswith("[unused")
    assert resolve_vocab(str(path), 300) == path
