"""Fit the answer-sentence scorer (qa/data/sentence_scorer.json) and report it on held-out
questions. Reproduces the shipped file from the data:

    python bench/fit_scorer.py [--data ../shared/data] [--write]

Fitted on (never reported on):
- squadshifts-train, Reddit and Amazon: the questions on paragraphs whose id hashes outside the
  validation fifth (``validation_paragraph``);
- realtimeqa-dev: the questions of the earlier weeks (asked up to ``FIT_UNTIL``).
Reported on: the squadshifts validation fifth, and realtimeqa-dev's later weeks, each asked as
of its date. The abstention rule (which evidence it reads, chosen by cross-validation, and its
weights) is fitted on the realtimeqa fit weeks against bench/out_of_archive.jsonl and reported on
the report weeks against bench/out_of_archive_report.jsonl.

Model: logistic regression over qa.features.FEATURES, standardized, each question weighing the
same in total; realtimeqa's fit questions together weigh ``--news-weight`` times squadshifts'.
The regularization and that weight are chosen by leave-one-week-out cross-validation on the fit
weeks only. Feature rows are cached in bench/.cache/features (delete it after changing features).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import replace
from functools import lru_cache
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.answer import (  # noqa: E402
    AnswerSettings, ScoredQuestion, best_prose, choose_quotes, final_scores, score_questions,
)
from qa.evaluate import GoldQuestion, _normalize_text, evaluate, load_gold  # noqa: E402
from qa.features import FEATURES  # noqa: E402
from qa.index import Index  # noqa: E402
from qa.ingest import record_id  # noqa: E402
from qa.scorer import SCORER_FILE, SentenceScorer  # noqa: E402
from qa.writer import build_index  # noqa: E402

FIT_UNTIL = date(2022, 7, 14)  # realtimeqa-dev weeks asked up to this day are fitted on

CACHE = REPO / "bench" / ".cache"
NEUTRAL = SentenceScorer(np.zeros(len(FEATURES), np.float32), np.ones(len(FEATURES), np.float32),
                         np.zeros(len(FEATURES), np.float32), 0.0, 0.5)


def split_weeks(gold: list) -> tuple[list, list]:
    """realtimeqa-dev questions split by week: (asked up to ``FIT_UNTIL``: fitted on, the later
    ones: reported). A question without a date is reported."""
    fit, report = [], []
    for g in gold:
        (fit if g.date and g.date <= FIT_UNTIL else report).append(g)
    return fit, report


@lru_cache(maxsize=4)
def article_ids(index: Index) -> dict[str, str]:
    """The article id of each record id in a JSON Lines archive (ids are ``FILEID#ID``)."""
    return {record_id(a) or a: a for a in index.all_articles()}


def validation_paragraph(paragraph_id: str) -> bool:
    """The squadshifts validation fifth: paragraphs whose id hashes to 0 mod 5."""
    return int(hashlib.sha1(paragraph_id.encode()).hexdigest(), 16) % 5 == 0


def ensure_index(files: list[Path], index_dir: Path) -> Index:
    if not (index_dir / "CURRENT").exists():
        started = time.monotonic()
        report = build_index(files, index_dir, show_progress=sys.stderr.isatty())
        print(f"built {index_dir.name}: {report.chunks} chunks in {time.monotonic() - started:.0f}s",
              file=sys.stderr)
    return Index.open(index_dir)


def question_rows(index: Index, gold: list[GoldQuestion], name: str, use_dates: bool):
    """Feature rows, labels and question ids of every candidate sentence (cached on disk)."""
    path = CACHE / "features" / f"{name}.npz"
    if path.exists():
        cached = np.load(path)
        if list(cached["features"]) == list(FEATURES):
            return cached["rows"], cached["labels"], cached["groups"], cached["furniture"]
    rows, labels, groups, furniture = [], [], [], []
    for first in range(0, len(gold), 64):
        batch = gold[first : first + 64]
        scored = score_questions(
            index, [g.question for g in batch], k=10,
            as_of=[g.date if use_dates else None for g in batch],
            settings=AnswerSettings(scorer=NEUTRAL, reranker="none"),
        )
        for offset, (item, found) in enumerate(zip(batch, scored)):
            answers = [_normalize_text(a) for a in item.answers if a.strip()]
            rows.append(found.features)
            labels.append([any(a in _normalize_text(c.text) for a in answers) for c in found.candidates])
            groups.append(np.full(len(found.candidates), first + offset))
            furniture.append([c.sentences.furniture[c.position] for c in found.candidates])
    result = (np.vstack(rows), np.concatenate(labels).astype(bool), np.concatenate(groups),
              np.concatenate(furniture).astype(bool))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, rows=result[0], labels=result[1], groups=result[2],
                        furniture=result[3], features=np.array(FEATURES))
    return result


def selection_rows(index: Index, gold: list[GoldQuestion], name: str):
    """Feature rows and labels of the sentences of each question's own paragraph: answer-sentence
    selection with the right article given (article-level features are then constant, so these
    questions teach the scorer only how a sentence answers). Labels: the sentence holds a gold
    answer. Cached like ``question_rows``."""
    from qa.candidates import Candidate, sentences_of
    from qa.features import feature_rows, question_terms

    path = CACHE / "features" / f"{name}.npz"
    if path.exists():
        cached = np.load(path)
        if list(cached["features"]) == list(FEATURES):
            return cached["rows"], cached["labels"], cached["groups"], cached["furniture"]
    frequency, documents = index.document_frequency, index.chunk_count
    rows, labels, groups, furniture = [], [], [], []
    for first in range(0, len(gold), 256):
        batch = gold[first : first + 256]
        vectors = index.encoder.encode([g.question for g in batch])
        for offset, item in enumerate(batch):
            analysed = sentences_of(index, index.article(article_ids(index)[item.sources[0]]))
            found = [Candidate(analysed, p, 0, 1.0) for p in range(len(analysed.sentences))]
            sentence_vectors = np.asarray(
                index.sentence_vectors[[s.vector_row for s in analysed.sentences]], dtype=np.float32)
            terms = question_terms(item.question, frequency, documents)
            rows.append(feature_rows(terms, found, sentence_vectors @ vectors[offset], [1.0]))
            answers = [_normalize_text(a) for a in item.answers if a.strip()]
            labels.append([any(a in _normalize_text(c.text) for a in answers) for c in found])
            groups.append(np.full(len(found), first + offset))
            furniture.append(list(analysed.furniture))
    result = (np.vstack(rows), np.concatenate(labels).astype(bool), np.concatenate(groups),
              np.concatenate(furniture).astype(bool))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, rows=result[0], labels=result[1], groups=result[2],
                        furniture=result[3], features=np.array(FEATURES))
    return result


def fit(parts, news_weight: float, c: float) -> SentenceScorer:
    """Logistic regression on (rows, labels, groups, furniture, is_news) parts: furniture and
    questions without a positive left out, each question weighing the same in total."""
    from sklearn.linear_model import LogisticRegression

    xs, ys, ws = [], [], []
    for rows, labels, groups, furniture, news in parts:
        keep = ~furniture
        rows, labels, groups = rows[keep], labels[keep], groups[keep]
        answerable = np.isin(groups, np.unique(groups[labels]))
        rows, labels, groups = rows[answerable], labels[answerable], groups[answerable]
        _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        weights = 1.0 / counts[inverse]
        share = news_weight if news else 1.0
        xs.append(rows), ys.append(labels), ws.append(share * weights / weights.sum())
    x, y, weights = np.vstack(xs), np.concatenate(ys), np.concatenate(ws)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit((x - mean) / scale, y, sample_weight=weights * len(weights) / weights.sum())
    return SentenceScorer(mean.astype(np.float32), scale.astype(np.float32),
                          model.coef_[0].astype(np.float32), float(model.intercept_[0]))


def top_hits(scores, labels, groups, furniture, depth: int = 1) -> float:
    """Share of questions with a gold answer in one of the ``depth`` best-scored prose
    sentences."""
    scores = np.where(furniture, -np.inf, scores)
    found = 0
    questions = np.unique(groups)
    for g in questions:
        members = np.flatnonzero(groups == g)
        found += bool(labels[members[np.argsort(-scores[members], kind="stable")[:depth]]].any())
    return found / len(questions)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def cross_validated(squad_rows, news_rows, weeks):
    """Leave one realtimeqa fit week out: the regularization and news weight with the best
    top-1 sentence on the held-out weeks, and the out-of-fold scores of every news row."""
    best = None
    for news_weight in (0.3, 1.0, 3.0):
        for c in (0.1, 1.0):
            out_of_fold = np.zeros(len(news_rows[0]), dtype=np.float32)
            for week in sorted(set(weeks)):
                held = weeks == week
                train_news = tuple(part[~held] for part in news_rows) + (True,)
                scorer = fit([squad_rows + (False,), train_news], news_weight, c)
                out_of_fold[held] = scorer.probabilities(news_rows[0][held])
            hits = top_hits(out_of_fold, *news_rows[1:])
            print(f"news weight {news_weight}, C {c}: cross-validated top-1 sentence {hits:.3f}",
                  file=sys.stderr)
            if best is None or hits > best[0]:
                best = (hits, news_weight, c, out_of_fold)
    return best[1:]


def fit_combination(dev: Index, news_fit, news_rows, out_of_fold, depth: int):
    """Weights of (cross-encoder logit, scorer logit) for the sentences the cross-encoder reads:
    logistic regression on the fit weeks' ``depth`` best sentences by out-of-fold scores."""
    from sklearn.linear_model import LogisticRegression

    from qa.rerank import load_reranker

    rows, labels, groups, furniture = news_rows
    reranker = load_reranker()
    pairs, first, wanted = [], [], []
    scored = score_questions(dev, [g.question for g in news_fit], k=10,
                             as_of=[g.date for g in news_fit],
                             settings=AnswerSettings(scorer=NEUTRAL, reranker="none"))
    for q, found in enumerate(scored):
        members = np.flatnonzero(groups == q)
        probabilities = out_of_fold[members]
        for i in best_prose(found.candidates, probabilities, depth):
            pairs.append((news_fit[q].question, found.candidates[i].text))
            first.append(logit(probabilities[i:i + 1])[0])
            wanted.append(labels[members[i]])
    cross = reranker.scores(pairs)
    x = np.column_stack([cross, first])
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, np.array(wanted))
    return tuple(float(v) for v in model.coef_[0]), float(model.intercept_[0])


ABSTENTION_SIGNALS = {  # the evidence abstention may read: none of it depends on the cross-encoder
    "cosine": ("cosine",),
    "cosine + scorer": ("cosine", "scorer"),
    "cosine + coverage": ("cosine", "coverage"),
    "cosine + coverage + scorer": ("cosine", "coverage", "scorer"),
}


def abstention_evidence(index: Index, gold, settings: AnswerSettings) -> dict[str, np.ndarray]:
    """Per question: its best prose sentence's cosine, coverage and scorer logit."""
    found = score_questions(index, [g.question for g in gold], k=10, as_of=[g.date for g in gold],
                            settings=settings)
    coverage = FEATURES.index("coverage")
    return {
        "cosine": np.array([f.best_cosine for f in found]),
        "coverage": np.array([f.features[:, coverage].max() if len(f.candidates) else 0.0
                              for f in found]),
        "scorer": logit(np.array([f.best_probability for f in found])),
    }


def fit_answerable(answered: dict, outside: dict, signals: tuple[str, ...], c: float):
    """Logistic regression of answerable (1) against out-of-archive (0), both sets weighing the
    same, then the decision threshold that answers the most of one plus declines the most of
    the other (of equally good ones, the highest: a wrong passage shown as the answer misleads
    more than a decline, which still shows the closest passages). Returns (weights, bias) on the
    raw signals, answered iff weights . signals + bias >= 0."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([np.column_stack([answered[n] for n in signals]),
                   np.column_stack([outside[n] for n in signals])])
    y = np.r_[np.ones(len(answered["cosine"])), np.zeros(len(outside["cosine"]))]
    weights = np.where(y == 1, 1 / y.sum(), 1 / (1 - y).sum())
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    model = LogisticRegression(C=c).fit((x - mean) / scale, y, sample_weight=weights * len(y))
    w = model.coef_[0] / scale
    b = float(model.intercept_[0] - (w * mean).sum())
    margin = x @ w + b
    best = None
    for threshold in np.unique(margin):
        total = np.mean(margin[y == 1] >= threshold) + np.mean(margin[y == 0] < threshold)
        if best is None or total >= best[0]:
            best = (total, float(threshold))
    return w, b - best[1]


def abstention_margin(values: dict, signals: tuple[str, ...], w: np.ndarray, b: float) -> np.ndarray:
    """weights . signals + bias per question: answered where it is >= 0."""
    return np.column_stack([values[n] for n in signals]) @ w + b


def fit_abstention(dev: Index, answerable, settings: AnswerSettings) -> tuple[tuple[float, float], float, str]:
    """The abstention rule: which signals and regularization by 5-fold cross-validation (5
    shuffles, seed 0) on the fit weeks against bench/out_of_archive.jsonl, then fitted on all of
    them. Returns the weights of (cosine, scorer logit), the bias and a note."""
    outside = load_gold(REPO / "bench" / "out_of_archive.jsonl")
    answered_values = abstention_evidence(dev, answerable, settings)
    outside_values = abstention_evidence(dev, outside, settings)
    rng = np.random.default_rng(0)
    print("\n| abstention reads | C | cross-validated answered | declined |", file=sys.stderr)
    print("| --- | --- | --- | --- |", file=sys.stderr)
    best = None
    for name, signals in ABSTENTION_SIGNALS.items():
        for c in (0.1, 1.0):
            right_answered, right_declined = [], []
            for _ in range(5):
                fold_a = rng.permutation(len(answerable)) % 5
                fold_o = rng.permutation(len(outside)) % 5
                for k in range(5):
                    w, b = fit_answerable({n: v[fold_a != k] for n, v in answered_values.items()},
                                          {n: v[fold_o != k] for n, v in outside_values.items()},
                                          signals, c)
                    held_a = {n: v[fold_a == k] for n, v in answered_values.items()}
                    held_o = {n: v[fold_o == k] for n, v in outside_values.items()}
                    right_answered += list(abstention_margin(held_a, signals, w, b) >= 0)
                    right_declined += list(abstention_margin(held_o, signals, w, b) < 0)
            a, d = float(np.mean(right_answered)), float(np.mean(right_declined))
            print(f"| {name} | {c} | {a:.3f} | {d:.3f} |", file=sys.stderr)
            if best is None or a + d > best[0]:
                best = (a + d, signals, c)
    _, signals, c = best
    w, b = fit_answerable(answered_values, outside_values, signals, c)
    full = dict(zip(signals, w))
    if "coverage" in full:
        raise SystemExit("the chosen abstention reads coverage, which qa.scorer does not: extend it")
    weights = (float(full.get("cosine", 0.0)), float(full.get("scorer", 0.0)))
    answered = np.mean(abstention_margin(answered_values, signals, w, b) >= 0)
    declined = np.mean(abstention_margin(outside_values, signals, w, b) < 0)
    note = (f"abstention: {weights[0]:.3f} x cosine + {weights[1]:.3f} x scorer logit + {b:.3f} >= 0 "
            f"(reads {' + '.join(signals)}, C {c}): fit weeks answered {answered:.3f}, "
            f"bench/out_of_archive.jsonl ({len(outside)}) declined {declined:.3f}")
    return weights, b, note


def sweep_depths(index: Index, gold, scorer: SentenceScorer) -> None:
    """How many of the scorer's best sentences the cross-encoder reads: answers in the fit
    weeks' quotes for each depth (AnswerSettings.reranked comes from this table with the
    latency of each depth in bench/speed.py)."""
    print("\n| sentences the cross-encoder reads | answer in top-1 | top-5 | MRR@10 |", file=sys.stderr)
    print("| --- | --- | --- | --- |", file=sys.stderr)
    for depth in (0, 4, 8, 16):
        settings = AnswerSettings(scorer=scorer, reranker="default" if depth else "none", reranked=depth)
        m = evaluate(index, gold, k=10, settings=settings).metrics
        print(f"| {depth} | {m['answer_in_quotes@1']} | {m['answer_in_quotes@5']} | {m['mrr@10']} |",
              file=sys.stderr)


def sweep_quotes(index: Index, gold, scorer: SentenceScorer) -> None:
    """How many quotes one article may give, how much its later quotes weigh against other
    articles' quotes, and when a neighbour joins a quote: answers in the fit weeks' quotes for
    each setting (AnswerSettings' defaults come from this table)."""
    print("\n| quotes per article | later quote weight | neighbour joins at | answer in top-1 | top-5 "
          "| hit@5 | MRR@10 | words per quote |", file=sys.stderr)
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", file=sys.stderr)
    for per_article in (1, 2, 3):
        for later in ((1.0,) if per_article == 1 else (1.0, 0.6, 0.4, 0.2)):
            for ratio in (0.5, 0.9):
                settings = AnswerSettings(scorer=scorer, quotes_per_article=per_article,
                                          later_quote_weight=later, context_ratio=ratio)
                report = evaluate(index, gold, k=10, settings=settings)
                m = report.metrics
                words = np.mean([len(q.text.split()) for r in report.results for q in r.answer.quotes[:5]])
                print(f"| {per_article} | {later} | {ratio} | {m['answer_in_quotes@1']} "
                      f"| {m['answer_in_quotes@5']} | {m['hit@5']} | {m['mrr@10']} | {words:.1f} |",
                      file=sys.stderr)


def selection_top1(index: Index, gold, settings: AnswerSettings) -> float:
    """Answer-sentence selection with the right paragraph given: the share of questions whose
    first quote, chosen among the sentences of their own paragraph, holds a gold answer."""
    from qa.candidates import Candidate, sentences_of
    from qa.features import feature_rows, question_terms
    from qa.rerank import load_reranker

    scorer = settings.scorer
    reranker = load_reranker(settings.reranker)
    frequency, documents = index.document_frequency, index.chunk_count
    found = 0
    for first in range(0, len(gold), 256):
        batch = gold[first : first + 256]
        vectors = index.encoder.encode([g.question for g in batch])
        for offset, item in enumerate(batch):
            analysed = sentences_of(index, index.article(article_ids(index)[item.sources[0]]))
            candidates = [Candidate(analysed, p, 0, 1.0) for p in range(len(analysed.sentences))]
            matrix = np.asarray(index.sentence_vectors[[s.vector_row for s in analysed.sentences]],
                                dtype=np.float32)
            terms = question_terms(item.question, frequency, documents)
            rows = feature_rows(terms, candidates, matrix @ vectors[offset], [1.0])
            probabilities = scorer.probabilities(rows)
            read = best_prose(candidates, probabilities, settings.reranked) if reranker else []
            logits = reranker.scores([(item.question, candidates[i].text) for i in read]) \
                if reranker else np.zeros(0)
            scores = final_scores(probabilities, read, logits, scorer, reranker)
            scored = ScoredQuestion(None, terms, (), tuple(candidates), rows, scores, 1.0, 1.0)
            quotes = choose_quotes(index, scored, 1, settings)
            answers = [_normalize_text(a) for a in item.answers if a.strip()]
            found += bool(quotes) and any(a in _normalize_text(quotes[0].text) for a in answers)
    return found / len(gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--write", action="store_true", help="write qa/data/sentence_scorer.json")
    options = parser.parse_args()
    data = Path(options.data)
    dev = ensure_index([data / "realtimeqa-dev" / "articles.jsonl"], CACHE / "dev-index")
    squad = ensure_index(
        [data / "squadshifts-train" / f"{name}-articles.jsonl" for name in ("reddit", "amazon")],
        CACHE / "squadshifts-index",
    )
    news = load_gold(data / "realtimeqa-dev" / "questions.jsonl")
    news_fit, news_report = split_weeks(news)
    squad_gold = [g for name in ("reddit", "amazon")
                  for g in load_gold(data / "squadshifts-train" / f"{name}-questions.jsonl")]
    squad_fit = [g for g in squad_gold if not validation_paragraph(g.sources[0])]
    squad_validation = [g for g in squad_gold if validation_paragraph(g.sources[0])]
    print(f"fit: {len(squad_fit)} squadshifts + {len(news_fit)} realtimeqa questions "
          f"(weeks to {FIT_UNTIL}); report: {len(squad_validation)} squadshifts validation + "
          f"{len(news_report)} realtimeqa questions", file=sys.stderr)

    squad_rows = selection_rows(squad, squad_fit, "squad-select-fit")
    news_rows = question_rows(dev, news_fit, "news-fit", use_dates=True)
    weeks = np.array([str(news_fit[g].date) for g in news_rows[2]])
    news_weight, c, out_of_fold = cross_validated(squad_rows, news_rows, weeks)
    scorer = fit([squad_rows + (False,), news_rows + (True,)], news_weight, c)
    print(f"chosen: news weight {news_weight}, C {c}", file=sys.stderr)
    for name, value in sorted(zip(FEATURES, scorer.weights), key=lambda item: -abs(item[1])):
        print(f"  {name:24} {value:+.3f}", file=sys.stderr)
    depth = AnswerSettings().reranked
    weights, bias = fit_combination(dev, news_fit, news_rows, out_of_fold, depth)
    print(f"cross-encoder combination: {weights}, bias {bias:.3f}", file=sys.stderr)
    scorer = replace(scorer, rerank_weights=weights, rerank_bias=bias)
    answer_weights, answer_bias, note = fit_abstention(dev, news_fit,
                                                       AnswerSettings(scorer=scorer, reranker="none"))
    print(note, file=sys.stderr)
    scorer = replace(scorer, answer_weights=answer_weights, answer_bias=answer_bias, about={
        "fitted_by": "bench/fit_scorer.py",
        "fitted_on": f"squadshifts-train Reddit+Amazon outside the validation fifth "
                     f"({len(squad_fit)} questions, sentences of their own paragraph); "
                     f"realtimeqa-dev weeks to {FIT_UNTIL} ({len(news_fit)} questions); "
                     f"abstention: those weeks against bench/out_of_archive.jsonl",
        "news_weight": news_weight, "C": c,
    })
    sweep_depths(dev, news_fit, scorer)
    sweep_quotes(dev, news_fit, scorer)
    report(dev, squad, news_report, squad_validation, scorer)
    if options.write:
        SCORER_FILE.write_text(json.dumps(scorer.as_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {SCORER_FILE}", file=sys.stderr)


def sentence_rrf(index: Index, gold, use_dates: bool) -> tuple[float, float]:
    """The baseline: the same candidate sentences ranked by plain reciprocal-rank fusion of
    their BM25 and MiniLM cosine (k=60), no per-article limit: answer in the top 1 and top 5."""
    cosine, bm25 = FEATURES.index("cosine"), FEATURES.index("bm25_log")
    top1 = top5 = 0
    for first in range(0, len(gold), 64):
        batch = gold[first : first + 64]
        for item, found in zip(batch, score_questions(
                index, [g.question for g in batch], k=10,
                as_of=[g.date if use_dates else None for g in batch],
                settings=AnswerSettings(scorer=NEUTRAL, reranker="none"))):
            prose = np.array([i for i, c in enumerate(found.candidates)
                              if not c.sentences.furniture[c.position]], dtype=int)
            if not len(prose):
                continue
            fused = np.zeros(len(prose))
            for column in (cosine, bm25):
                ranks = np.argsort(np.argsort(-found.features[prose, column], kind="stable"))
                fused += 1.0 / (60 + ranks + 1)
            best = prose[np.argsort(-fused, kind="stable")[:5]]
            answers = [_normalize_text(a) for a in item.answers if a.strip()]
            holds = [any(a in _normalize_text(found.candidates[i].text) for a in answers) for i in best]
            top1 += holds[0]
            top5 += any(holds)
    return top1 / len(gold), top5 / len(gold)


def report(dev: Index, squad: Index, news_report, squad_validation, scorer: SentenceScorer) -> None:
    """Held-out numbers, with and without the cross-encoder, and the sentence-RRF baseline."""
    outside = load_gold(REPO / "bench" / "out_of_archive_report.jsonl")
    print("\n| held-out set | cross-encoder | answer in top-1 quote | in top-5 quotes | hit@5 "
          "| MRR@10 | answered | out-of-archive declined |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    news_rrf, squad_rrf = sentence_rrf(dev, news_report, True), sentence_rrf(squad, squad_validation, False)
    print(f"| realtimeqa-dev report weeks: baseline, sentence RRF of BM25 and MiniLM | | "
          f"{news_rrf[0]:.4f} | {news_rrf[1]:.4f} | | | | |")
    print(f"| squadshifts validation, whole archive: baseline, sentence RRF | | "
          f"{squad_rrf[0]:.4f} | {squad_rrf[1]:.4f} | | | | |")
    for reranker in ("none", "default"):
        settings = AnswerSettings(scorer=scorer, reranker=reranker)
        m = evaluate(dev, news_report + outside, k=10, settings=settings).metrics
        print(f"| realtimeqa-dev report weeks ({m['with_answers']} q) + bench/out_of_archive_report.jsonl "
              f"({m['unanswerable']} q) | {reranker} | {m['answer_in_quotes@1']} | "
              f"{m['answer_in_quotes@5']} | {m['hit@5']} | {m['mrr@10']} | {m['answered_rate']} | "
              f"{m['abstention_recall']} |")
        m = evaluate(squad, squad_validation, k=10, use_dates=False, settings=settings).metrics
        print(f"| squadshifts validation ({m['with_answers']} q), whole archive "
              f"({squad.manifest['articles']} paragraphs) | {reranker} | {m['answer_in_quotes@1']} | "
              f"{m['answer_in_quotes@5']} | {m['hit@5']} | {m['mrr@10']} | | |")
        top1 = selection_top1(squad, squad_validation, settings)
        print(f"| squadshifts validation, own paragraph given (answer-sentence selection) | "
              f"{reranker} | {top1:.4f} | | | | | |")


if __name__ == "__main__":
    main()
