"""qa mcp as an assistant meets it: the official SDK's client starts `qa mcp` over stdio, lists
the tools and calls them (real model, demo corpus)."""

from __future__ import annotations

import json
import os
import sys

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from typer.testing import CliRunner

from cli import app as cli_app

LEADER = "Who leads the Liwa Suqour al-Jabal rebel group?"


def test_mcp_tools_answer_with_the_cli_json_over_stdio(demo_index_dir):
    expected = json.loads(CliRunner().invoke(
        cli_app, ["ask", LEADER, "--json", "-k", "2", "--index", str(demo_index_dir)]
    ).stdout)
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "cli", "mcp", "--index", str(demo_index_dir)],
        env=dict(os.environ),
    )

    async def session() -> None:
        async with Client(server, read_timeout_seconds=120) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert set(tools) == {"ask", "article"}
            assert "verbatim" in tools["ask"].description and "paraphrase" in tools["ask"].description
            assert set(tools["ask"].input_schema["properties"]) == \
                {"question", "k", "since", "until", "source", "as_of"}
            assert "paraphrase" in (client.instructions or "")

            answer = await client.call_tool("ask", {"question": LEADER, "k": 2})
            assert not answer.is_error
            assert answer.structured_content == expected
            quote = answer.structured_content["quotes"][0]
            assert quote["answer"] == "Hassan Haj Ali"

            article = await client.call_tool("article", {"id": quote["article"]["id"]})
            text = article.structured_content["text"]
            assert text[quote["start"] : quote["end"]] == quote["text"]
            assert article.structured_content["title"] == quote["article"]["title"]

            empty = await client.call_tool("ask", {"question": " "})
            assert empty.is_error and "the question is empty" in empty.content[0].text
            bad_day = await client.call_tool("ask", {"question": LEADER, "since": "soon"})
            assert bad_day.is_error and "not a date: 'soon'" in bad_day.content[0].text
            missing = await client.call_tool("article", {"id": "nope"})
            assert missing.is_error and "no article 'nope'" in missing.content[0].text

    anyio.run(session)


def test_qa_mcp_without_an_index_fails_like_the_cli(tmp_path):
    result = CliRunner().invoke(cli_app, ["mcp", "--index", str(tmp_path / "none")])
    assert result.exit_code == 3 and result.stderr.startswith("error: no index at ")
