"""Cross-encoders that read a question and a candidate sentence together and say how well the
sentence answers: the one that ships with qa (an int8 ONNX file trained by
``bench/train_reranker.py``, run with onnxruntime) or a sentence-transformers ``CrossEncoder``
a user names (``--reranker NAME``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from qa.errors import ModelError

RERANKER_DIR = Path(__file__).with_name("data")
MAX_LENGTH = 96  # question and sentence together, in tokens
_BATCH = 16
PACKAGED = "default"
NONE = "none"


class Reranker(Protocol):
    """Scores (question, sentence) pairs: higher is a better answer."""

    name: str

    def scores(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray: ...


class PackagedReranker:
    """The int8 ONNX cross-encoder in qa/data, on one single-threaded session per core."""

    name = PACKAGED

    def __init__(self, directory: Path = RERANKER_DIR) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model = directory / "reranker.int8.onnx"
        if not model.exists():
            raise ModelError(f"the packaged reranker is missing ({model}): reinstall qa, or "
                             "run with --reranker none")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, min(2, os.cpu_count() or 1))
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(str(model), options,
                                                     providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(directory / "reranker-tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_LENGTH)
        self._tokenizer.no_padding()

    def scores(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """The logit of each (question, sentence) pair, in batches of similar length."""
        result = np.zeros(len(pairs), dtype=np.float32)
        if not pairs:
            return result
        encodings = self._tokenizer.encode_batch(list(pairs))
        order = sorted(range(len(pairs)), key=lambda i: len(encodings[i].ids))
        for first in range(0, len(order), _BATCH):
            rows = order[first : first + _BATCH]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            types = np.zeros_like(ids)
            for row, i in enumerate(rows):
                encoding = encodings[i]
                length = len(encoding.ids)
                ids[row, :length] = encoding.ids
                mask[row, :length] = 1
                types[row, :length] = encoding.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            result[rows] = self._session.run(["logit"], feeds)[0]
        return result


class HubReranker:
    """A sentence-transformers cross-encoder by name or local path (torch)."""

    def __init__(self, name: str) -> None:
        self.name = name
        if Path(name).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        elif name.startswith((".", os.sep, "~")):
            raise ModelError(f"cannot load reranker {name!r}: no such folder")
        try:
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(name, device="cpu", max_length=MAX_LENGTH)
        except Exception as exc:  # any load failure: missing files, no network, bad config
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"cannot load reranker {name!r}: {first} (give a local path or "
                             "a cross-encoder that is in the Hugging Face cache)") from exc

    def scores(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """The probability of each pair: the sigmoid of the model's raw logit, whatever
        activation the model was saved with."""
        import torch

        if not pairs:
            return np.zeros(0, dtype=np.float32)
        found = self._model.predict(list(pairs), show_progress_bar=False, convert_to_numpy=True,
                                    activation_fn=torch.nn.Identity())
        logits = np.asarray(found, dtype=np.float32).reshape(len(pairs), -1)[:, -1]
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


@lru_cache(maxsize=4)
def load_reranker(name: str = PACKAGED) -> Reranker | None:
    """``default``: the packaged cross-encoder; ``none``: no reranking; else a model name/path."""
    if name == NONE:
        return None
    if name == PACKAGED:
        return PackagedReranker()
    return HubReranker(name)
