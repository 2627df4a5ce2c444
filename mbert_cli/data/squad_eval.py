"""SQuAD predictions and scores: best span per question, then the official EM / F1.

`squad_metrics` follows the official v1.1 script (lower-case, strip punctuation and the
articles a/an/the, collapse whitespace; max over gold answers; scores in %) and the v2.0
rule for unanswerable questions: the gold answer is "" and only an empty prediction scores.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the types only; squad.py imports this module
    from mbert_cli.data.squad import SquadExample, SquadFeature


def postprocess_predictions(examples: Sequence[SquadExample], features: Sequence[SquadFeature],
                            start_logits, end_logits, n_best: int = 20, max_answer_length: int = 30, *,
                            allow_impossible: bool | None = None,
                            null_score_diff_threshold: float = 0.0) -> dict[str, str]:
    """The answer text for each question id from per-feature start/end logits.

    Args:
        examples, features: as made by `load_squad` / `squad_features`; logits row i
            belongs to features[i].
        n_best: how many top start and end positions to pair up per window.
        max_answer_length: longest answer in WordPieces.
        allow_impossible: predict "" when the [CLS] score wins by the threshold; None =
            when the examples come from a v2.0 file.
    """
    if allow_impossible is None:
        allow_impossible = any(e.version_2 for e in examples)
    by_example: dict[int, list[int]] = collections.defaultdict(list)
    for i, f in enumerate(features):
        by_example[f.example_index].append(i)
    predictions: dict[str, str] = {}
    for index, example in enumerate(examples):
        best_score, best_text = None, ""
        null_score = None
        for fi in by_example.get(index, []):
            feature = features[fi]
            starts, ends = list(start_logits[fi]), list(end_logits[fi])
            null = float(starts[0] + ends[0])
            null_score = null if null_score is None else min(null_score, null)
            for s in _top(starts, n_best):
                for e in _top(ends, n_best):
                    if (s not in feature.token_to_word or e not in feature.token_to_word or e < s
                            or e - s + 1 > max_answer_length or not feature.token_is_max_context.get(s, False)):
                        continue
                    score = float(starts[s] + ends[e])
                    if best_score is None or score > best_score:
                        best_score = score
                        words = " ".join(example.doc_words[feature.token_to_word[s]:feature.token_to_word[e] + 1])
                        best_text = _final_text(feature.tokens[s:e + 1], words)
        if allow_impossible and null_score is not None and (
                best_score is None or null_score - best_score > null_score_diff_threshold):
            best_text = ""
        predictions[example.qid] = best_text
    return predictions


def squad_metrics(predictions: dict[str, str], examples: Sequence[SquadExample]) -> dict[str, float]:
    """Official SQuAD exact match and F1 (in %), max over each question's gold answers.

    A question without a prediction scores 0.
    """
    em = f1 = 0.0
    for example in examples:
        golds = [a for a in example.answers if normalize_answer(a)] or [""]
        prediction = predictions.get(example.qid)
        if prediction is None:
            continue
        em += max(float(normalize_answer(prediction) == normalize_answer(g)) for g in golds)
        f1 += max(_f1(prediction, g) for g in golds)
    n = max(len(examples), 1)
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * f1 / n}


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, drop a/an/the, collapse whitespace (official script)."""
    text = text.lower()
    text = "".join(c for c in text if c not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _f1(prediction: str, gold: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:  # v2.0: an empty answer only matches an empty answer
        return float(pred == ref)
    common = collections.Counter(pred) & collections.Counter(ref)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def _top(logits: list, n: int) -> list[int]:
    return sorted(range(len(logits)), key=lambda i: logits[i], reverse=True)[:n]


def _final_text(pieces: list[str], words: str) -> str:
    """Trims the original words to the predicted WordPieces (e.g. drops a trailing comma).

    Aligns lower-cased, whitespace-free characters as BERT's `get_final_text` does; when
    they do not align (accents, [UNK]) the whole original words are returned.
    """
    predicted = "".join(pieces).replace("##", "")
    chars, positions = [], []
    for i, c in enumerate(words):
        if not c.isspace():
            chars.append(c.lower())
            positions.append(i)
    found = "".join(chars).find(predicted) if predicted else -1
    if found < 0:
        return words
    return words[positions[found]:positions[found + len(predicted) - 1] + 1]
