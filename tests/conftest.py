"""Shared fixtures: the real default model, loaded once, and a demo-corpus index built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO_CORPUS = REPO / "demo-corpus"


@pytest.fixture(scope="session")
def encoder():
    from embeddings import load_encoder

    return load_encoder()


@pytest.fixture(scope="session")
def demo_index_dir(tmp_path_factory, encoder) -> Path:
    """An index of the demo corpus built with the real model (read-only for tests)."""
    from qa.writer import build_index

    directory = tmp_path_factory.mktemp("demo") / "index"
    build_index([DEMO_CORPUS], directory, encoder=encoder)
    return directory


@pytest.fixture(scope="session")
def demo_index(demo_index_dir, encoder):
    from qa.index import Index

    index = Index.open(demo_index_dir)
    index.use_encoder(encoder)
    yield index
    index.close()


@pytest.fixture()
def corpus_copy(tmp_path) -> Path:
    """A writable copy of the demo corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(DEMO_CORPUS, target)
    return target
