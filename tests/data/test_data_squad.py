"""SQuAD: answer spans to token positions, strided windows, v2 impossible questions, EM/F1."""

import json

import numpy as np
import pytest

from mbert_cli.data.squad import (
    load_squad,
    make_squad_from_corpus,
    postprocess_predictions,
    squad_dataset,
    squad_features,
    squad_metrics,
)
from mbert_cli.data.tokenizer import WordPieceTokenizer
from mbert_cli.data.vocab import NANO_VOCAB
from mbert_cli.errors import MbertError

CONTEXT = "In 1895 the Denver Broncos, who had travelled far, defeated the Carolina Panthers (1895-1943)."
FILLER = " ".join(f"Verse {i} tells of the land and the sea." for i in range(40))
LONG = FILLER + " At last the king built a great temple of cedar."


def squad_file(tmp_path, version="v2.0"):
    qa = [
        {"id": "q1", "question": "Who defeated the Carolina Panthers?",
         "answers": [{"text": "Denver Broncos", "answer_start": CONTEXT.index("Denver")}]},
        {"id": "q2", "question": "When were the Panthers founded?",
         "answers": [{"text": "1895", "answer_start": CONTEXT.index("(1895") + 1}]},
        {"id": "q3", "question": "Who won the cup?", "answers": [], "is_impossible": True},
    ]
    long_qa = [{"id": "q4", "question": "What did the king build?",
                "answers": [{"text": "a great temple of cedar", "answer_start": LONG.index("a great temple")}]}]
    data = {"version": version, "data": [{"title": "t", "paragraphs": [
        {"context": CONTEXT, "qas": qa}, {"context": LONG, "qas": long_qa}]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer(NANO_VOCAB)


def answer_of(tok, feature):
    pieces = feature.tokens[feature.start_position:feature.end_position + 1]
    return " ".join(pieces).replace(" ##", "")


def test_answer_spans_map_to_their_tokens(tmp_path, tok):
    examples = load_squad(squad_file(tmp_path))
    assert [e.qid for e in examples] == ["q1", "q2", "q3", "q4"]
    features = squad_features(examples[:3], tok, seq_len=64, doc_stride=32, max_query_length=16)
    assert [f.qid for f in features] == ["q1", "q2", "q3"]  # short contexts: one window each
    assert answer_of(tok, features[0]) == "denver broncos"
    assert answer_of(tok, features[1]) == "1895"  # tightened inside "(1895-1943)."
    assert features[1].start_position > features[0].end_position  # the second 1895, not the first
    assert (features[2].start_position, features[2].end_position) == (0, 0)  # impossible -> [CLS]
    assert examples[2].answers == [] and examples[2].version_2


def test_long_context_is_split_with_the_stride(tmp_path, tok):
    example = load_squad(squad_file(tmp_path))[3]
    features = squad_features([example], tok, seq_len=48, doc_stride=16, max_query_length=16)
    assert len(features) > 5
    starts = [f.token_to_word[min(f.token_to_word)] for f in features]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    holding = [f for f in features if f.start_position > 0]
    assert holding and all(answer_of(tok, f) == "a great temple of cedar" for f in holding)
    assert features[0].start_position == features[0].end_position == 0  # answer outside the first window
    for f in features:
        assert len(f.input_word_ids) == 48 and f.input_word_ids[0] == tok.cls_id


def test_postprocess_picks_the_span_and_trims_punctuation(tmp_path, tok):
    examples = load_squad(squad_file(tmp_path))
    features = squad_features(examples, tok, seq_len=48, doc_stride=16, max_query_length=16)
    start = np.full((len(features), 48), -5.0)
    end = np.full((len(features), 48), -5.0)
    for i, f in enumerate(features):
        start[i, f.start_position] += 10 if f.start_position or f.qid == "q3" else 0
        end[i, f.end_position] += 10 if f.end_position or f.qid == "q3" else 0
    predictions = postprocess_predictions(examples, features, start, end, n_best=5, max_answer_length=30)
    assert predictions == {"q1": "Denver Broncos", "q2": "1895", "q3": "", "q4": "a great temple of cedar"}
    assert squad_metrics(predictions, examples) == {"exact_match": 100.0, "f1": 100.0}
    batch = next(iter(squad_dataset(features, 4, training=True)))
    assert batch[0]["input_mask"].dtype.name == "float32" and batch[1]["start_positions"].shape == (4,)


def test_squad_metrics_hand_computed(tmp_path):
    examples = load_squad(squad_file(tmp_path))
    examples[0].answers = ["the Denver Broncos", "Broncos"]
    predictions = {
        "q1": "Denver Broncos!",  # EM after normalisation (article, punctuation)
        "q2": "Carolina Panthers beat 1895",  # F1 vs "1895": P 1/4, R 1 -> 0.4
        "q3": "",  # impossible, empty prediction: EM 1, F1 1
        "q4": "cedar wood",  # F1 vs "a great temple of cedar": P 1/2, R 1/4 -> 1/3
    }
    scores = squad_metrics(predictions, examples)
    assert scores["exact_match"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(100 * (1 + 0.4 + 1 + 1 / 3) / 4)
    predictions["q3"] = "the cup"
    assert squad_metrics(predictions, examples)["f1"] == pytest.approx(100 * (1 + 0.4 + 0 + 1 / 3) / 4)


def test_bad_squad_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"paragraphs": [{"qas": []}]}]}', encoding="utf-8")
    with pytest.raises(MbertError, match="lacks the field 'context'"):
        load_squad(bad)
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(MbertError, match="not valid JSON"):
        load_squad(bad)


def test_generated_speaker_questions_are_valid_squad(tmp_path, tok):
    path = tmp_path / "gen.json"
    data = make_squad_from_corpus("dev", max_questions=30, out_path=path)
    qas = [(p["context"], qa) for a in data["data"] for p in a["paragraphs"] for qa in p["qas"]]
    assert len(qas) == 30
    for context, qa in qas:
        answer = qa["answers"][0]
        start = answer["answer_start"]
        assert context[start:start + len(answer["text"])] == answer["text"]
        quote = qa["question"].split('"')[1]
        assert context[start + len(answer["text"]):].startswith(": " + quote)
    examples = load_squad(path)
    features = squad_features(examples, tok, seq_len=128, doc_stride=64, max_query_length=24)
    for example in examples:
        holding = [f for f in features if f.qid == example.qid and f.start_position > 0]
        assert holding and answer_of(tok, holding[0]) == example.answers[0].lower()
    assert make_squad_from_corpus("dev", max_questions=30) == data  # seeded, deterministic
