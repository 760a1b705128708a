"""Cross-encoder reranking: the packaged int8 model and a user's own sentence-transformers
CrossEncoder (``--reranker NAME``); all with the real MiniLM weights."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from cli import app
from qa.answer import AnswerSettings, ask

runner = CliRunner()


@pytest.fixture(scope="module")
def local_cross_encoder(tmp_path_factory):
    """A CrossEncoder folder made from the packaged MiniLM weights (its head untrained): a model
    a user could name by path. It checks the plumbing, not answer quality."""
    from sentence_transformers import CrossEncoder

    from embeddings import _packaged_model_path

    folder = tmp_path_factory.mktemp("cross-encoder") / "model"
    CrossEncoder(_packaged_model_path("all-MiniLM-L6-v2"), num_labels=1, device="cpu").save(str(folder))
    return folder


def test_the_packaged_reranker_prefers_the_answering_sentence():
    from qa.rerank import load_reranker

    reranker = load_reranker("default")
    question = "How many people died on the Russian plane?"
    scores = reranker.scores([
        (question, "Officials said the downing killed all 224 people aboard the Airbus."),
        (question, "The plane took off from Sharm el-Sheikh in the morning."),
        (question, "Russia has increased its air campaign in Syria."),
    ])
    assert scores.shape == (3,) and np.argmax(scores) == 0


def test_a_named_cross_encoder_reorders_the_quotes_it_reads(demo_index, local_cross_encoder):
    settings = AnswerSettings(reranker=str(local_cross_encoder))
    answer = ask(demo_index, "How many people died on the Russian plane?", k=5, settings=settings)
    assert len(answer.quotes) == 5
    for quote in answer.quotes:
        assert quote.article.text[quote.start : quote.end] == quote.text
    scores = [q.score for q in answer.quotes]
    assert scores == sorted(scores, reverse=True)


def test_ask_takes_a_reranker_by_path_and_none(demo_index_dir, local_cross_encoder):
    for name in (str(local_cross_encoder), "none"):
        result = runner.invoke(app, ["ask", "Who leads the Liwa Suqour al-Jabal rebel group?",
                                     "--index", str(demo_index_dir), "--reranker", name, "--json"])
        assert result.exit_code == 0, result.stderr
        assert '"quotes"' in result.stdout


def test_a_reranker_that_cannot_load_is_one_line_and_exit_5(demo_index_dir, tmp_path):
    result = runner.invoke(app, ["ask", "Who leads the rebel group?", "--index", str(demo_index_dir),
                                 "--reranker", str(tmp_path / "no-such-model")])
    assert result.exit_code == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot load reranker")
