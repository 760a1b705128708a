"""The fitted answer-sentence scorer: logistic regression over ``qa.features.FEATURES``, its
weights in ``qa/data/sentence_scorer.json``, written by ``bench/fit_scorer.py`` (which says on
which questions it was fitted and reproduces the file from the data)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import QAError
from qa.features import FEATURES

SCORER_FILE = Path(__file__).with_name("data") / "sentence_scorer.json"


@dataclass(frozen=True)
class SentenceScorer:
    """P(a sentence holds the answer) = sigmoid(weights . standardized features + bias)."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    # The archive answers when answer_weights . (best prose cosine, logit of this scorer's best
    # prose probability) + answer_bias >= 0 (bench/fit_scorer.py ``fit_abstention``: fitted on
    # realtimeqa-dev's fit weeks against bench/out_of_archive.jsonl). Neither signal depends on
    # the cross-encoder, so a question is declined the same way with any ``--reranker``.
    answer_weights: tuple[float, float] = (1.0, 0.0)
    answer_bias: float = -0.5
    # How the packaged cross-encoder's logit and this scorer's logit combine (bench/fit_scorer.py):
    rerank_weights: tuple[float, float] = (0.0, 1.0)
    rerank_bias: float = 0.0
    about: dict[str, Any] = field(default_factory=dict, compare=False)

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """The probability of each row (one row of ``FEATURES`` per sentence)."""
        if not len(rows):
            return np.zeros(0, dtype=np.float32)
        logits = ((rows - self.mean) / self.scale) @ self.weights + self.bias
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def rerank(self, cross_logits: np.ndarray, first_logits: np.ndarray) -> np.ndarray:
        """The combined probability of sentences the packaged cross-encoder read."""
        cross, first = self.rerank_weights
        logits = cross * cross_logits + first * first_logits + self.rerank_bias
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def answers(self, best_cosine: float, best_probability: float) -> bool:
        """Whether the archive holds an answer, from its best prose sentence's cosine with the
        question and this scorer's probability for it."""
        p = min(max(best_probability, 1e-6), 1 - 1e-6)
        cosine, first = self.answer_weights
        return cosine * best_cosine + first * float(np.log(p / (1 - p))) + self.answer_bias >= 0

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.about,
            "features": list(FEATURES),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 6) for v in self.weights],
            "bias": round(float(self.bias), 6),
            "answer_weights": [round(float(v), 6) for v in self.answer_weights],
            "answer_bias": round(float(self.answer_bias), 6),
            "rerank_weights": [round(float(v), 6) for v in self.rerank_weights],
            "rerank_bias": round(float(self.rerank_bias), 6),
        }


def scorer_from_dict(data: dict[str, Any]) -> SentenceScorer:
    """A scorer from its JSON form; its feature list must be the one this qa computes."""
    if list(data.get("features", ())) != list(FEATURES):
        raise QAError("the sentence scorer was fitted on other features: rerun bench/fit_scorer.py")
    known = {"features", "mean", "scale", "weights", "bias", "answer_weights", "answer_bias",
             "rerank_weights", "rerank_bias"}
    return SentenceScorer(
        mean=np.array(data["mean"], dtype=np.float32),
        scale=np.array(data["scale"], dtype=np.float32),
        weights=np.array(data["weights"], dtype=np.float32),
        bias=float(data["bias"]),
        answer_weights=tuple(float(v) for v in data["answer_weights"]),  # type: ignore[arg-type]
        answer_bias=float(data["answer_bias"]),
        rerank_weights=tuple(float(v) for v in data.get("rerank_weights", (0.0, 1.0))),  # type: ignore[arg-type]
        rerank_bias=float(data.get("rerank_bias", 0.0)),
        about={k: v for k, v in data.items() if k not in known},
    )


@lru_cache(maxsize=1)
def packaged_scorer() -> SentenceScorer:
    """The scorer that ships with qa."""
    return scorer_from_dict(json.loads(SCORER_FILE.read_text(encoding="utf-8")))
