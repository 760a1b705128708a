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
    min_score: float  # below this the best sentence does not answer the question
    # How the packaged cross-encoder's logit and this scorer's logit combine (bench/fit_scorer.py):
    rerank_weights: tuple[float, float] = (0.0, 1.0)
    rerank_bias: float = 0.0
    rerank_min_score: float = 0.5  # the abstention threshold with the packaged cross-encoder
    # P(the archive answers): logistic regression over ANSWERABILITY of the best prose
    # sentences, without and with the packaged cross-encoder (bench/fit_scorer.py).
    answerability_alone: tuple[tuple[float, ...], float] = ((0.0, 0.0, 0.0, 0.0), 0.0)
    answerability_reranked: tuple[tuple[float, ...], float] = ((0.0, 0.0, 0.0, 0.0), 0.0)
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

    def answerability(self, rows: np.ndarray, best_cross: float, *, reranked: bool) -> float:
        """P(the archive answers the question), from the feature rows of its prose candidates
        and the packaged cross-encoder's best logit."""
        weights, bias = self.answerability_reranked if reranked else self.answerability_alone
        values = answerability_values(rows, best_cross)
        return float(1.0 / (1.0 + np.exp(-(np.dot(weights, values) + bias))))

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.about,
            "features": list(FEATURES),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 6) for v in self.weights],
            "bias": round(float(self.bias), 6),
            "min_score": round(float(self.min_score), 4),
            "rerank_weights": [round(float(v), 6) for v in self.rerank_weights],
            "rerank_bias": round(float(self.rerank_bias), 6),
            "rerank_min_score": round(float(self.rerank_min_score), 4),
            "answerability": list(ANSWERABILITY),
            "answerability_alone": _model_as_list(self.answerability_alone),
            "answerability_reranked": _model_as_list(self.answerability_reranked),
        }


def scorer_from_dict(data: dict[str, Any]) -> SentenceScorer:
    """A scorer from its JSON form; its feature list must be the one this qa computes."""
    if list(data.get("features", ())) != list(FEATURES):
        raise QAError("the sentence scorer was fitted on other features: rerun bench/fit_scorer.py")
    known = {"features", "mean", "scale", "weights", "bias", "min_score", "rerank_weights",
             "rerank_bias", "rerank_min_score", "answerability", "answerability_alone",
             "answerability_reranked"}
    if list(data.get("answerability", ANSWERABILITY)) != list(ANSWERABILITY):
        raise QAError("the abstention model was fitted on other features: rerun bench/fit_scorer.py")
    return SentenceScorer(
        mean=np.array(data["mean"], dtype=np.float32),
        scale=np.array(data["scale"], dtype=np.float32),
        weights=np.array(data["weights"], dtype=np.float32),
        bias=float(data["bias"]),
        min_score=float(data["min_score"]),
        rerank_weights=tuple(float(v) for v in data.get("rerank_weights", (0.0, 1.0))),  # type: ignore[arg-type]
        rerank_bias=float(data.get("rerank_bias", 0.0)),
        rerank_min_score=float(data.get("rerank_min_score", data["min_score"])),
        answerability_alone=_model_from_list(data.get("answerability_alone")),
        answerability_reranked=_model_from_list(data.get("answerability_reranked")),
        about={k: v for k, v in data.items() if k not in known},
    )


ANSWERABILITY = ("best_cosine", "best_coverage", "best_bm25_log", "best_cross")


def answerability_values(rows: np.ndarray, best_cross: float) -> np.ndarray:
    """The ``ANSWERABILITY`` values of a question: the best of each over its prose rows."""
    cosine, coverage, bm25 = (FEATURES.index(n) for n in ("cosine", "coverage", "bm25_log"))
    if not len(rows):
        return np.array([0.0, 0.0, 0.0, best_cross])
    return np.array([rows[:, cosine].max(), rows[:, coverage].max(), rows[:, bm25].max(), best_cross])


def _model_as_list(model: tuple[tuple[float, ...], float]) -> list[Any]:
    return [[round(float(w), 6) for w in model[0]], round(float(model[1]), 6)]


def _model_from_list(value: Any) -> tuple[tuple[float, ...], float]:
    if not value:
        return ((0.0,) * len(ANSWERABILITY), 0.0)
    return (tuple(float(w) for w in value[0]), float(value[1]))


@lru_cache(maxsize=1)
def packaged_scorer() -> SentenceScorer:
    """The scorer that ships with qa."""
    return scorer_from_dict(json.loads(SCORER_FILE.read_text(encoding="utf-8")))
