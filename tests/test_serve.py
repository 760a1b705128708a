"""qa serve's API with the real model on the demo corpus: answers are the qa ask --json object,
errors are JSON with the CLI's messages, and the safe defaults (token, limits, CORS, loopback)."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli import app as cli_app
from qa.service import AnswerEngine, IndexHolder, Limits, ask_request

LEADER = "Who leads the Liwa Suqour al-Jabal rebel group?"
runner = CliRunner()


@pytest.fixture(scope="module")
def engine(demo_index_dir, encoder):
    engine = AnswerEngine(IndexHolder(demo_index_dir, encoder), limits=Limits(max_batch=3))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def client(engine):
    from qa.serve import create_app

    return TestClient(create_app(engine))


def cli_json(*args: str) -> dict:
    result = runner.invoke(cli_app, list(args))
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def cli_error(*args: str) -> str:
    result = runner.invoke(cli_app, list(args))
    assert result.exit_code != 0
    return result.stderr.strip().removeprefix("error: ")


def test_get_and_post_ask_return_exactly_the_cli_json(client, demo_index_dir):
    expected = cli_json("ask", LEADER, "--json", "-k", "4", "--index", str(demo_index_dir))
    got = client.get("/api/ask", params={"q": LEADER, "k": 4})
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    assert got.json() == expected
    posted = client.post("/api/ask", json={"q": LEADER, "k": 4})
    assert posted.json() == expected
    assert client.post("/api/ask", json={"question": LEADER, "k": 4}).json() == expected


def test_filters_and_as_of_mean_what_they_mean_in_the_cli(client, demo_index_dir):
    args = ["--since", "2016-02-01", "--until", "2016-02-28", "--source", "yahoo"]
    expected = cli_json("ask", "What will Russia do in Syria?", "--json", *args, "--index", str(demo_index_dir))
    got = client.get("/api/ask", params={"q": "What will Russia do in Syria?", "since": "2016-02-01",
                                         "until": "2016-02-28", "source": ["yahoo"]}).json()
    assert got == expected
    assert got["quotes"] and all("yahoo" in (q["article"]["url"] or "") for q in got["quotes"])
    early = client.post("/api/ask", json={"q": LEADER, "as_of": "2000-01-01"}).json()
    assert early["quotes"] == []  # nothing was published before then


@pytest.mark.parametrize(("params", "cli_args"), [
    ({"q": "  "}, ["  "]),
    ({"q": LEADER, "since": "yesterday"}, [LEADER, "--since", "yesterday"]),
    ({"q": LEADER, "as_of": "2016-13-01"}, [LEADER, "--as-of", "2016-13-01"]),
])
def test_errors_are_json_with_the_cli_message(client, demo_index_dir, params, cli_args):
    message = cli_error("ask", *cli_args, "--index", str(demo_index_dir))
    got = client.get("/api/ask", params=params)
    assert got.status_code == 400
    assert got.json() == {"error": message}


def test_bad_requests_have_their_status(client):
    assert client.get("/api/ask", params={"q": LEADER, "k": 51}).json() == \
        {"error": "k must be a number from 1 to 50"}
    missing = client.get("/api/ask")
    assert missing.status_code == 422 and missing.json() == {"error": "q: Field required"}
    assert client.get("/api/ask", params={"q": LEADER, "k": "many"}).status_code == 422
    not_json = client.post("/api/ask", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and "error" in not_json.json()
    gone = client.get("/api/articles/no-such-article")
    assert gone.status_code == 404 and "no article 'no-such-article'" in gone.json()["error"]
    assert client.get("/api/nothing-here").json() == {"error": "Not Found"}


def test_a_follow_up_carries_the_previous_subject(client):
    got = client.post("/api/ask", json={"q": "Where is his group's base?", "after": LEADER}).json()
    assert got["question"] == "Where is his group's base?"
    assert all(word in got["understood_as"] for word in ("Liwa", "Suqour", "al-Jabal"))
    assert any("Idlib" in q["text"] for q in got["quotes"])


def test_batch_streams_json_lines_in_order(client):
    with client.stream("POST", "/api/batch", json={
        "questions": [LEADER, {"id": "lavrov", "question": "What did Sergey Lavrov say?"}], "k": 2,
    }) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert [line["id"] for line in lines] == ["1", "lavrov"]
    assert lines[0]["question"] == LEADER and lines[0]["quotes"][0]["answer"] == "Hassan Haj Ali"
    assert all(len(line["quotes"]) == 2 for line in lines)
    too_many = client.post("/api/batch", json={"questions": ["a", "b", "c", "d"]})
    assert too_many.status_code == 400
    assert too_many.json() == {"error": "a batch holds at most 3 questions, not 4"}
    empty_row = client.post("/api/batch", json={"questions": ["a", " "]})
    assert empty_row.status_code == 400 and empty_row.json() == {"error": "the question is empty"}


def test_article_gives_the_text_that_quotes_slice(client):
    quote = client.get("/api/ask", params={"q": LEADER, "k": 1}).json()["quotes"][0]
    article = client.get(f"/api/articles/{quote['article']['id']}").json()
    assert article["text"][quote["start"] : quote["end"]] == quote["text"]
    paragraph = next(p for p in article["paragraphs"] if p["start"] <= quote["start"] < p["end"])
    assert quote["text"] in article["text"][paragraph["start"] : paragraph["end"]]
    assert {k: article[k] for k in quote["article"]} == quote["article"]


def test_info_is_the_cli_info_with_the_generation(client, demo_index_dir):
    got = client.get("/api/info").json()
    expected = cli_json("info", "--json", "--index", str(demo_index_dir))
    assert {k: got[k] for k in expected} == expected
    assert (demo_index_dir / got["generation"]).is_dir()
    assert got["service"]["limits"]["max_k"] == 50


def test_docs_and_openapi_work_offline(client):
    schema = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/batch", "/api/articles/{article_id}", "/api/info"} <= set(schema["paths"])
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + \
        re.findall(r"""url: ?["']([^"']+)["']""", page.text)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))]
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_page_is_served_with_a_strict_content_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="q"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200


def test_a_token_guards_the_api_but_not_the_page(engine):
    from qa.serve import create_app

    guarded = TestClient(create_app(engine, token="s3cret"))
    refused = guarded.get("/api/info")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in refused.json()["error"]
    assert guarded.get("/api/info", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.post("/api/batch", json={"questions": []}).status_code == 401
    assert guarded.get("/api/info", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert guarded.get("/").status_code == 200


def test_request_size_is_limited_by_length_and_as_it_streams(engine):
    from qa.serve import create_app

    small = TestClient(create_app(engine, max_body_bytes=1000))
    body = json.dumps({"questions": ["x" * 50] * 40}).encode()
    declared = small.post("/api/batch", content=body, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.json() == {"error": "the request is larger than 1000 bytes"}
    streamed = small.post("/api/batch", content=iter([body[:600], body[600:]]),
                          headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_cors_is_off_unless_an_origin_is_given(engine, client):
    from qa.serve import create_app

    preflight = {"Origin": "https://newsroom.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/api/ask", headers=preflight).headers
    allowed = TestClient(create_app(engine, cors_origins=("https://newsroom.example",)))
    answer = allowed.options("/api/ask", headers=preflight)
    assert answer.headers["access-control-allow-origin"] == "https://newsroom.example"


def test_qa_serve_binds_loopback_by_default_and_warns_on_every_interface(demo_index_dir, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(options))
    quiet = runner.invoke(cli_app, ["serve", "--index", str(demo_index_dir)])
    assert quiet.exit_code == 0, quiet.stderr
    assert calls[-1]["host"] == "127.0.0.1" and calls[-1]["port"] == 8000
    assert "warning" not in quiet.stderr
    loud = runner.invoke(cli_app, ["serve", "--index", str(demo_index_dir), "--host", "0.0.0.0",
                                   "--port", "8123"], env={"QA_TOKEN": ""})
    assert calls[-1]["host"] == "0.0.0.0" and calls[-1]["port"] == 8123
    assert "warning: qa serve listens on 0.0.0.0" in loud.stderr and "--token" in loud.stderr


def test_qa_serve_without_an_index_fails_like_the_cli(tmp_path):
    result = runner.invoke(cli_app, ["serve", "--index", str(tmp_path / "none")])
    assert result.exit_code == 3
    assert result.stderr.startswith("error: no index at ")


def test_a_full_queue_is_refused_with_503_and_retry_after(demo_index_dir, encoder):
    from qa.serve import create_app

    engine = AnswerEngine(IndexHolder(demo_index_dir, encoder), limits=Limits(max_waiting=2),
                          start=False)
    waiting = [engine.submit(ask_request(q, k=1)) for q in (LEADER, "What did Sergey Lavrov say?")]
    refused = TestClient(create_app(engine)).get("/api/ask", params={"q": "Where is Idlib?"})
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json() == {"error": "the server is busy: 2 questions are waiting; ask again shortly"}
    engine.start()
    assert all(f.result(timeout=120)["quotes"] for f in waiting)
    engine.close()
