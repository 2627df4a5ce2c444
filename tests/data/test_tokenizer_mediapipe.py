"""mbert's tokenizer against the deployed one: MediaPipe Tasks' C++ BERT preprocessor."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "converters"))
from mediapipe_helpers import echo_model, mediapipe_token_ids

# Where BERT's Python rules and MediaPipe's C++ ones part: accents and non-ASCII case,
# Unicode spaces and control characters, compatibility forms, CJK and Hangul, symbols that
# are not punctuation, long words, unknown words.
HARD = ["Café crème brûlée", "CAFÉ", "naïve résumé", "Ünïcödé", "東京は日本の首都です", "你好世界", "안녕하세요",
        "こんにちは", "hello...world!!", "don't", "it’s “quoted” — dash", "$100 €50 ©2020 ™",
        "supercalifragilisticexpialidocious" * 5, "x" * 120, "a\u00a0b", "a\u3000b", "tab\tnew\nline",
        "zero\u200bwidth", "ﬁne ｆｕｌｌ", "emoji 😀 ok", "ΑΒΓ αβγ", "Straße", "İstanbul", "control\x07char",
        "\ufffd bad", "a--b", "#hashtag @user", "k-pop's", "dots…", "mañana", "ǅ", "ＡＢＣ", "", "   ",
        "qwxzv blorptangle", "A" * 101, "é" * 50, "é" * 51]


@pytest.fixture(scope="module", params=["nano", "bert-uncased"])
def vocab_and_echo(request, tmp_path_factory):
    from mbert_cli.data.vocab import BERT_UNCASED_SIZE, NANO_VOCAB_SIZE, resolve_vocab

    vocab = resolve_vocab("shipped", NANO_VOCAB_SIZE if request.param == "nano" else BERT_UNCASED_SIZE)
    return vocab, echo_model(tmp_path_factory.mktemp("echo") / "echo.tflite", vocab)


def test_hard_cases_match_mediapipe(vocab_and_echo):
    from mbert_cli.data.tokenizer import WordPieceTokenizer

    vocab, echo = vocab_and_echo
    tok = WordPieceTokenizer(vocab)
    ours, deployed = tok.tokenize(HARD), mediapipe_token_ids(echo, HARD)
    diff = [(t, tok.ids_to_tokens(a), tok.ids_to_tokens(b)) for t, a, b in zip(HARD, ours, deployed, strict=True)
            if a != b]
    assert not diff, "\n".join(f"{t!r}: mbert {a} vs MediaPipe {b}" for t, a, b in diff)


def test_shipped_reviews_match_mediapipe(vocab_and_echo):
    """A sample of the shipped task's sentences, those with non-ASCII characters first."""
    from mbert_cli.data.classification import load_classification
    from mbert_cli.data.tokenizer import WordPieceTokenizer

    vocab, echo = vocab_and_echo
    train, dev, _ = load_classification("shipped")
    texts = [e.text_a for e in dev + train]
    sample = [t for t in texts if not t.isascii()][:150] + texts[:150]
    tok = WordPieceTokenizer(vocab)
    ours, deployed = tok.tokenize(sample), mediapipe_token_ids(echo, sample)
    diff = [t for t, a, b in zip(sample, ours, deployed, strict=True) if a != b]
    assert not diff, diff[:5]


def test_rules_by_hand():
    """The deployed rules, stated without MediaPipe: ASCII-only lower-casing, no accent
    stripping, Unicode punctuation split off, ideographs one per token, long words [UNK]."""
    from mbert_cli.data.tokenizer import WordPieceTokenizer
    from mbert_cli.data.vocab import BERT_UNCASED_SIZE, resolve_vocab

    tok = WordPieceTokenizer(resolve_vocab("shipped", BERT_UNCASED_SIZE))

    def pieces(text):
        return tok.ids_to_tokens(tok.tokenize([text])[0])

    assert pieces("The MOVIE") == ["the", "movie"]
    assert pieces("Café") == ["[UNK]"]  # BERT's rules said "cafe"; the app's tokenizer keeps the accent
    assert pieces("dots…") == ["dots", "…"]
    assert pieces("東京") == ["東", "京"]
    assert pieces("a\u00a0b") == ["[UNK]"]  # one word: only ASCII whitespace splits
    assert pieces("x" * 101) == ["[UNK]"]
