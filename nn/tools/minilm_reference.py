#!/usr/bin/env python3
"""An independent NumPy forward pass of all-MiniLM-L6-v2 (sentence-transformers' recipe), the
reference lanes-nn's sentence embeddings are checked and benchmarked against.

Tokens come from the Hugging Face `tokenizers` wheel reading the model's tokenizer.json
(truncation to 256 tokens, as sentence-transformers sets it); the weights are read straight
from model.safetensors. The batch is padded to its longest text and masked the way
Hugging Face's BertModel does it (additive mask of the dtype's minimum), mean pooling over
the mask, L2 normalisation.

    python minilm_reference.py MODEL_DIR < request.json > response.json
    request:  {"texts": [...]}                        -> {"ids": [[...]], "embeddings": [[...]]}
    request:  {"texts": [...], "bench": {"batch": B, "seconds": S[, "min_batches": N]}}
              -> also "bench": {"seconds_per_batch": ..., "batches": n, "batch_seconds": [...]}
                 (single thread only if the caller sets OMP/OPENBLAS_NUM_THREADS=1)
    request:  {"ids": [[...]], ...}  the token ids (each with its [CLS] and [SEP]) instead of
              texts: no tokenising (lanes-bench's models suite sends the sequences lanes runs)
"""
import json
import struct
import sys
import time
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

MAX_TOKENS = 256


def load_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    body = memoryview(raw)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
    return out


def erf(x):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), in float64: NumPy has no erf.
    x = x.astype(np.float64)
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return (s * y).astype(np.float32)


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class MiniLM:
    def __init__(self, model_dir):
        model_dir = Path(model_dir)
        self.cfg = json.loads((model_dir / "config.json").read_text())
        self.w = load_safetensors(model_dir / "model.safetensors")
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_TOKENS)

    def ids(self, texts):
        return [e.ids for e in self.tok.encode_batch(texts)]

    def forward(self, ids):
        w, cfg = self.w, self.cfg
        eps = cfg["layer_norm_eps"]
        heads = cfg["num_attention_heads"]
        hsz = cfg["hidden_size"]
        d = hsz // heads
        b, length = len(ids), max(len(s) for s in ids)
        tokens = np.zeros((b, length), dtype=np.int64)
        mask = np.zeros((b, length), dtype=np.float32)
        for i, s in enumerate(ids):
            tokens[i, : len(s)] = s
            mask[i, : len(s)] = 1.0
        x = w["embeddings.word_embeddings.weight"][tokens]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = x + w["embeddings.position_embeddings.weight"][:length]
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        additive = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]

        def dense(v, name):
            return v @ w[name + ".weight"].T + w[name + ".bias"]

        def split(v):
            return v.reshape(b, length, heads, d).transpose(0, 2, 1, 3)

        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            q = split(dense(x, p + "attention.self.query"))
            k = split(dense(x, p + "attention.self.key"))
            v = split(dense(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(d)) + additive
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, length, hsz)
            x = layer_norm(dense(ctx, p + "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], eps)
            inner = dense(x, p + "intermediate.dense")
            inner = inner * 0.5 * (1.0 + erf(inner / np.float32(np.sqrt(2.0))))
            x = layer_norm(dense(inner, p + "output.dense") + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps)
        summed = (x * mask[:, :, None]).sum(1)
        mean = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)


def main():
    model = MiniLM(sys.argv[1])
    req = json.load(sys.stdin)
    ids = req["ids"] if "ids" in req else model.ids(req["texts"])
    emb = model.forward(ids)
    out = {"ids": ids, "embeddings": emb.astype(float).tolist()}
    bench = req.get("bench")
    if bench:
        batch = [ids[i % len(ids)] for i in range(bench["batch"])]
        model.forward(batch)  # warm-up
        times, start = [], time.perf_counter()
        while True:
            t = time.perf_counter()
            model.forward(batch)
            times.append(time.perf_counter() - t)
            if time.perf_counter() - start >= bench["seconds"] and len(times) >= bench.get("min_batches", 1):
                break
        n = len(times)
        out["bench"] = {"seconds_per_batch": (time.perf_counter() - start) / n, "batches": n, "batch_seconds": times}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
