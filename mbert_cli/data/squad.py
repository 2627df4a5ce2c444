"""SQuAD v1.1 / v2.0: JSON loading, answer spans -> token positions, strided windows, tf.data.

Follows BERT's `run_squad.py`: the context is split on whitespace into words, each word
into WordPieces; an answer's character span becomes a word span, then a WordPiece span
(tightened to the tokenized answer text). Contexts longer than the window are cut into
overlapping windows `doc_stride` tokens apart. An impossible (v2) question, or an answer
outside a window, points at position 0 ([CLS]). Scoring lives in `squad_eval`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from mbert_cli.data.squad_corpus import make_squad_from_corpus
from mbert_cli.data.squad_eval import postprocess_predictions, squad_metrics
from mbert_cli.errors import MbertError

__all__ = ["SquadExample", "SquadFeature", "load_squad", "make_squad_from_corpus", "postprocess_predictions",
           "squad_dataset", "squad_features", "squad_metrics"]

_HINT = "use SQuAD JSON: {'version', 'data': [{'paragraphs': [{'context', 'qas': [{'id', 'question', 'answers'}]}]}]}"


@dataclass
class SquadExample:
    """One question on one context, split into whitespace words."""

    qid: str
    question: str
    context: str
    doc_words: list[str]
    answers: list[str]  # all gold answer texts ([] = impossible)
    start_word: int = -1  # first gold answer as a word span; -1 when none
    end_word: int = -1
    is_impossible: bool = False
    version_2: bool = False


@dataclass
class SquadFeature:
    """One window of one example, ready for the model."""

    example_index: int
    qid: str
    input_word_ids: list[int]
    input_mask: list[int]
    input_type_ids: list[int]
    token_to_word: dict[int, int] = field(default_factory=dict)  # window position -> context word
    token_is_max_context: dict[int, bool] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)  # WordPiece strings, to trim predicted answers
    start_position: int = 0
    end_position: int = 0


def _is_whitespace(c: str) -> bool:
    return c in " \t\r\n" or ord(c) == 0x202F


def load_squad(path: str | Path) -> list[SquadExample]:
    """Reads a SQuAD v1.1/v2.0 JSON file into examples (all gold answers kept).

    Raises:
        MbertError: missing file, invalid JSON, or a record without the SQuAD fields.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise MbertError(f"SQuAD file not found: {path}", hint=_HINT)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
        version_2 = str(data.get("version", "")).startswith("v2") or str(data.get("version", "")).startswith("2")
        examples = []
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                examples.extend(_paragraph_examples(paragraph, version_2))
    except UnicodeDecodeError:
        raise MbertError(f"SQuAD file {path} is not UTF-8", hint="save it as UTF-8") from None
    except json.JSONDecodeError as err:
        raise MbertError(f"SQuAD file {path} is not valid JSON (line {err.lineno}: {err.msg})", hint=_HINT) from None
    except (KeyError, TypeError, AttributeError) as err:
        raise MbertError(f"SQuAD file {path} lacks the field {err}", hint=_HINT) from None
    if not examples:
        raise MbertError(f"SQuAD file {path} has no questions", hint=_HINT)
    return examples


def _paragraph_examples(paragraph: dict, version_2: bool) -> list[SquadExample]:
    context = paragraph["context"]
    words: list[str] = []
    char_to_word: list[int] = []
    previous_space = True
    for c in context:
        if _is_whitespace(c):
            previous_space = True
        else:
            if previous_space:
                words.append(c)
            else:
                words[-1] += c
            previous_space = False
        char_to_word.append(len(words) - 1)
    out = []
    for qa in paragraph["qas"]:
        impossible = bool(qa.get("is_impossible", False))
        version_2 = version_2 or "is_impossible" in qa
        answers = [] if impossible else [a["text"] for a in qa["answers"]]
        example = SquadExample(str(qa["id"]), qa["question"], context, words, answers,
                               is_impossible=impossible, version_2=version_2)
        if not impossible and qa["answers"]:
            first = qa["answers"][0]
            start, text = int(first["answer_start"]), first["text"]
            end = start + len(text) - 1
            if 0 <= start and end < len(char_to_word):
                s, e = char_to_word[start], char_to_word[end]
                # BERT skips answers whose text is not found where the offset says (bad labels).
                if " ".join(text.split()) in " ".join(words[s:e + 1]):
                    example.start_word, example.end_word = s, e
        out.append(example)
    return out


def squad_features(examples: list[SquadExample], tokenizer, seq_len: int, doc_stride: int = 128,
                   max_query_length: int = 64) -> list[SquadFeature]:
    """Tokenizes examples into windows of `seq_len`: `[CLS] question [SEP] context window [SEP]`.

    Start/end positions index the window; 0 ([CLS]) for impossible questions and for
    windows that do not hold the whole answer.
    """
    all_words = sorted({w for e in examples for w in e.doc_words})
    word_ids = dict(zip(all_words, tokenizer.tokenize(all_words), strict=True))
    questions = tokenizer.tokenize([e.question for e in examples])
    answer_ids = tokenizer.tokenize([e.answers[0] if e.answers else "" for e in examples])
    features: list[SquadFeature] = []
    for index, example in enumerate(examples):
        query = questions[index][:max_query_length]
        doc_tokens: list[int] = []
        token_word: list[int] = []
        word_start: list[int] = []
        for w, word in enumerate(example.doc_words):
            word_start.append(len(doc_tokens))
            for t in word_ids[word]:
                doc_tokens.append(t)
                token_word.append(w)
        tok_start = tok_end = -1
        if example.start_word >= 0:
            tok_start = word_start[example.start_word]
            tok_end = (word_start[example.end_word + 1] - 1 if example.end_word + 1 < len(word_start)
                       else len(doc_tokens) - 1)
            tok_start, tok_end = _improve_span(doc_tokens, tok_start, tok_end, answer_ids[index])
        room = seq_len - len(query) - 3
        if room < 1:
            raise MbertError(f"seq_len {seq_len} leaves no room for the context after a {len(query)}-token question",
                             hint="raise seq_len or lower max_query_length")
        spans = _windows(len(doc_tokens), room, doc_stride)
        for span_index, (start, length) in enumerate(spans):
            tokens = [tokenizer.cls_id] + query + [tokenizer.sep_id]
            types = [0] * len(tokens)
            offset = len(tokens)
            to_word, max_ctx = {}, {}
            for i in range(length):
                to_word[len(tokens)] = token_word[start + i]
                max_ctx[len(tokens)] = _is_max_context(spans, span_index, start + i)
                tokens.append(doc_tokens[start + i])
                types.append(1)
            tokens.append(tokenizer.sep_id)
            types.append(1)
            start_pos = end_pos = 0
            if tok_start >= 0 and start <= tok_start and tok_end <= start + length - 1:
                start_pos, end_pos = tok_start - start + offset, tok_end - start + offset
            pad = seq_len - len(tokens)
            features.append(SquadFeature(
                example_index=index, qid=example.qid, input_word_ids=tokens + [0] * pad,
                input_mask=[1] * len(tokens) + [0] * pad, input_type_ids=types + [0] * pad,
                token_to_word=to_word, token_is_max_context=max_ctx, tokens=tokenizer.ids_to_tokens(tokens),
                start_position=start_pos, end_position=end_pos))
    return features


def squad_dataset(features: list[SquadFeature], batch_size: int, training: bool, seed: int = 0):
    """tf.data of the features: (inputs, {'start_positions', 'end_positions'}) when training
    (shuffled, last partial batch dropped), else inputs only in feature order, so the
    predictions line up with `features` for `postprocess_predictions`."""
    if not features:
        raise MbertError("no SQuAD features to batch", hint=_HINT)
    inputs = feature_arrays(features)
    if not training:
        return tf.data.Dataset.from_tensor_slices(inputs).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    labels = {"start_positions": np.array([f.start_position for f in features], np.int32),
              "end_positions": np.array([f.end_position for f in features], np.int32)}
    ds = tf.data.Dataset.from_tensor_slices((inputs, labels)).shuffle(len(features), seed=seed)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def feature_arrays(features: list[SquadFeature]) -> dict:
    """The model inputs of `features` as stacked arrays (int32 ids, float32 mask), in order."""
    return {"input_word_ids": np.array([f.input_word_ids for f in features], np.int32),
            "input_mask": np.array([f.input_mask for f in features], np.float32),
            "input_type_ids": np.array([f.input_type_ids for f in features], np.int32)}


def _windows(n_tokens: int, room: int, stride: int) -> list[tuple[int, int]]:
    spans, start = [], 0
    while True:
        length = min(n_tokens - start, room)
        spans.append((start, length))
        if start + length >= n_tokens:
            return spans
        start += min(length, stride)


def _is_max_context(spans: list[tuple[int, int]], current: int, position: int) -> bool:
    """True when this window gives the token the most context on both sides (BERT's rule)."""
    best_score, best = None, None
    for i, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best_score is None or score > best_score:
            best_score, best = score, i
    return best == current


def _improve_span(doc_tokens: list[int], start: int, end: int, answer: list[int]) -> tuple[int, int]:
    """Tightens a word-aligned span to the answer's own WordPieces ("1895" in "(1895-1943).")."""
    for new_start in range(start, end + 1):
        for new_end in range(end, new_start - 1, -1):
            if doc_tokens[new_start:new_end + 1] == answer:
                return new_start, new_end
    return start, end

