"""qa eval on a tiny gold file whose right answers are known by construction (real model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from qa.evaluate import evaluate, load_gold
from qa.index import Index

REPO = Path(__file__).resolve().parent.parent
LIWA = REPO / "demo-corpus" / "001_0a13e2fcd2c43a4f.txt"
FSB = REPO / "demo-corpus" / "004_ac5a1b7d9f08b570.txt"

GOLD = [
    # Answered at rank 1 from the named article (see test_answer.FACTS): a hit and an answer.
    {"id": "by-path", "question": "Who leads the Liwa Suqour al-Jabal rebel group?",
     "sources": ["demo-corpus/001_0a13e2fcd2c43a4f.txt"], "answers": ["Hassan Haj Ali"]},
    {"id": "by-id", "question": "How big is the reward the FSB offers for information about the plane downing?",
     "sources": ["ID-OF-004"], "answers": ["$50 million"]},
    # Answerable, but the gold names an article that is not in the archive: a miss either way.
    {"id": "elsewhere", "question": "Who said it is too early to speak of a victory over terrorism?",
     "sources": ["https://www.example.com/not-in-the-archive"], "answers": ["no such words anywhere"]},
    # Out of the archive: must be declined.
    {"id": "outside", "question": "What is a good recipe for banana bread?"},
]


@pytest.fixture()
def gold_file(tmp_path, demo_index) -> Path:
    fsb = next(a.id for a in demo_index.all_articles().values() if a.path == str(FSB))
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps(g).replace("ID-OF-004", fsb) + "\n" for g in GOLD))
    return path


def test_metrics_of_a_gold_file_with_known_answers(demo_index, gold_file, monkeypatch):
    monkeypatch.chdir(REPO)  # the first gold source is a path relative to the repository
    report = evaluate(demo_index, load_gold(gold_file), k=5)
    assert report.metrics == {
        "questions": 4, "with_sources": 3, "with_answers": 3, "unanswerable": 1,
        "hit@1": 0.6667, "hit@5": 0.6667, "hit@10": 0.6667, "mrr@10": 0.6667,
        "answer_in_quotes@1": 0.6667, "answer_in_quotes@5": 0.6667,
        "abstention_precision": 1.0, "abstention_recall": 1.0, "answered_rate": 1.0,
    }
    ranks = {r.gold.id: (r.source_rank, r.answer_rank, r.answer.answered) for r in report.results}
    assert ranks == {"by-path": (1, 1, True), "by-id": (1, 1, True), "elsewhere": (None, None, True),
                     "outside": (None, None, False)}
    assert [r.gold.id for r in report.misses()] == ["elsewhere"]


def test_eval_command_prints_metrics_and_misses(demo_index_dir, gold_file, monkeypatch):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["eval", str(gold_file), "--index", str(demo_index_dir), "--json",
                                      "--misses", "-k", "5"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["metrics"]["hit@1"] == 0.6667 and payload["metrics"]["abstention_recall"] == 1.0
    assert [m["id"] for m in payload["misses"]] == ["elsewhere"]
    assert payload["misses"][0]["source_rank"] is None and payload["misses"][0]["answered"] is True
    text = CliRunner().invoke(app, ["eval", str(gold_file), "--index", str(demo_index_dir), "--misses"])
    assert "hit@1                    0.6667" in text.stdout and "missed elsewhere:" in text.stdout


def test_a_gold_source_may_name_a_record_by_its_own_id(tmp_path, encoder):
    from qa.writer import build_index

    (tmp_path / "a.jsonl").write_text(json.dumps(
        {"id": "r-7", "text": "The harbour bridge reopened on Monday after two years of repairs."}) + "\n")
    build_index([tmp_path / "a.jsonl"], tmp_path / "idx", encoder=encoder)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"question": "When did the harbour bridge reopen?", "sources": ["r-7"]}) + "\n")
    index = Index.open(tmp_path / "idx")
    index.use_encoder(encoder)
    assert evaluate(index, load_gold(gold), k=1).metrics["hit@1"] == 1.0


def test_a_bad_gold_line_is_an_error_with_its_line(tmp_path, demo_index_dir):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"question": "Who?"}) + "\n{broken\n")
    result = CliRunner().invoke(app, ["eval", str(gold), "--index", str(demo_index_dir)])
    assert result.exit_code == 2 and f"{gold}:2: invalid JSON" in result.stderr
