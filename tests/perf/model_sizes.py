#!/usr/bin/env python3
"""File size and estimated peak RSS of every Whisper model per weight type, for the
"which model to pick" table (README, docs/PERFORMANCE.md).

Sizes are computed from the architecture, exactly as whisper.cpp's convert-pt-to-ggml.py
and whisper-quantize (= our `md-converter model quantize`) lay the file out: the tensor
list of the loader, 2-D tensors except conv biases and positional embeddings quantized,
3-D conv weights f16, 1-D f32.  The vocabulary section is taken from a generated model
(same multilingual.tiktoken as the real files).  --check verifies the formula against the
generated test models and QUANTIZED.json (exact byte counts).

Peak RSS estimate = file (every weight page is touched by a transcription) + the parts of
wsp_state a greedy run touches (src/whisper/state.c: conv/encoder activations 11·T·n f32,
cross-attention K/V 2·L·T·n f16, im2col, f32 weight panel 4n², one decoder's KV cache,
decoder scratch) + 8 MiB process base.  It reproduces the measured tiny-dims/base-dims
peaks of docs/PERFORMANCE.md within ~10 MiB.

Usage: tests/perf/model_sizes.py [--check] [--markdown]
"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.environ.get("MDC_MODELS_DIR", os.path.join(ROOT, "build", "models"))
SHARED = os.environ.get("MDC_SHARED_DIR", os.path.join(os.path.dirname(ROOT), "shared"))

BLOCK = {"q4_0": 18, "q4_1": 20, "q5_0": 22, "q5_1": 24, "q8_0": 34}  # bytes per 32 weights
SKIP = {"encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding",
        "decoder.positional_embedding"}

# name: (n_state, n_audio_layer, n_text_layer, n_vocab, n_mels)  ref: OpenAI model dims
REAL = {
    "tiny": (384, 4, 4, 51865, 80),
    "base": (512, 6, 6, 51865, 80),
    "small": (768, 12, 12, 51865, 80),
    "medium": (1024, 24, 24, 51865, 80),
    "large-v2": (1280, 32, 32, 51865, 80),
    "large-v3": (1280, 32, 32, 51866, 128),
    "large-v3-turbo": (1280, 32, 4, 51866, 128),
}
T, C = 1500, 448  # n_audio_ctx, n_text_ctx


def tensors(n, la, lt, nv, nm):
    """(name, ggml ne list, f16-able) in file order of convert-pt-to-ggml.py."""
    out = [("encoder.positional_embedding", [n, T]), ("encoder.conv1.weight", [3, nm, n]),
           ("encoder.conv1.bias", [1, n]), ("encoder.conv2.weight", [3, n, n]),
           ("encoder.conv2.bias", [1, n])]

    def block(p, cross):
        t = [(p + "attn.query.weight", [n, n]), (p + "attn.query.bias", [n]),
             (p + "attn.key.weight", [n, n]), (p + "attn.value.weight", [n, n]),
             (p + "attn.value.bias", [n]), (p + "attn.out.weight", [n, n]),
             (p + "attn.out.bias", [n]), (p + "attn_ln.weight", [n]), (p + "attn_ln.bias", [n])]
        if cross:
            t += [(p + "cross_attn.query.weight", [n, n]), (p + "cross_attn.query.bias", [n]),
                  (p + "cross_attn.key.weight", [n, n]), (p + "cross_attn.value.weight", [n, n]),
                  (p + "cross_attn.value.bias", [n]), (p + "cross_attn.out.weight", [n, n]),
                  (p + "cross_attn.out.bias", [n]), (p + "cross_attn_ln.weight", [n]),
                  (p + "cross_attn_ln.bias", [n])]
        t += [(p + "mlp.0.weight", [n, 4 * n]), (p + "mlp.0.bias", [4 * n]),
              (p + "mlp.2.weight", [4 * n, n]), (p + "mlp.2.bias", [n]),
              (p + "mlp_ln.weight", [n]), (p + "mlp_ln.bias", [n])]
        return t

    for i in range(la):
        out += block("encoder.blocks.%d." % i, False)
    out += [("encoder.ln_post.weight", [n]), ("encoder.ln_post.bias", [n]),
            ("decoder.positional_embedding", [n, C]), ("decoder.token_embedding.weight", [n, nv])]
    for i in range(lt):
        out += block("decoder.blocks.%d." % i, True)
    out += [("decoder.ln.weight", [n]), ("decoder.ln.bias", [n])]
    return out


def vocab_bytes():
    """Bytes of the header + filterbank(80) + vocabulary of a generated multilingual model."""
    path = os.path.join(MODELS, "ggml-tiny-dims-random.bin")
    with open(path, "rb") as f:
        head = f.read(48 + 8)
        n_mel, n_fft = struct.unpack("<2i", head[48:56])
        f.seek(56 + n_mel * n_fft * 4)
        (n_tok,) = struct.unpack("<i", f.read(4))
        pos = 60 + n_mel * n_fft * 4
        for _ in range(n_tok):
            (ln,) = struct.unpack("<i", f.read(4))
            f.seek(ln, 1)
            pos += 4 + ln
    return pos - (48 + 8 + 80 * 201 * 4)  # vocabulary section alone


def file_size(dims, wtype, vocab):
    n, la, lt, nv, nm = dims
    size = 48 + 8 + nm * 201 * 4 + vocab
    weights = 0
    for name, ne in tensors(n, la, lt, nv, nm):
        size += 12 + 4 * len(ne) + len(name)
        nel = 1
        for x in ne:
            nel *= x
        weights += nel
        if len(ne) == 1 or name in SKIP:
            size += 4 * nel  # f32
        elif len(ne) == 3 or wtype == "f16":
            size += 2 * nel
        else:
            size += nel // 32 * BLOCK[wtype]
    return size, weights


def state_bytes(dims):
    n, la, lt, nv, nm = dims
    f = 4
    act = 11 * T * n * f
    cross = 2 * lt * T * n * 2
    im2col = max(2 * T * 3 * nm, T * 3 * n) * f
    panel = 4 * n * n * f
    kv = 2 * lt * C * n * f
    dec = 10 * C * n * f + nv * f * 4
    return act + cross + im2col + panel + kv + dec + 8 * 2**20


def check(vocab):
    ok = True
    want = {"tiny-dims": 77691713, "base-dims": 147951465, "v3tiny": 77841665}
    dims = {"tiny-dims": REAL["tiny"], "base-dims": REAL["base"],
            "v3tiny": (384, 4, 4, 51866, 128)}
    q = json.load(open(os.path.join(SHARED, "whisper-ref", "models", "QUANTIZED.json")))["models"]
    for k, v in q.items():
        want[k] = v["bytes"]
    dims["micro"] = (64, 2, 2, 51865, 80)
    for k, b in sorted(want.items()):
        base, _, t = k.rpartition("-q")
        base, wt = (base, "q" + t) if base else (k, "f16")
        got = file_size(dims[base], wt, vocab)[0]
        print("%-16s computed %11d  actual %11d  %s" % (k, got, b, "ok" if got == b else "DIFFERENT"))
        ok &= got == b
    return ok


def main():
    vocab = vocab_bytes()
    if "--check" in sys.argv:
        sys.exit(0 if check(vocab) else 1)
    types = ["f16", "q8_0", "q5_1", "q5_0", "q4_1", "q4_0"]
    print("| model | " + " | ".join(types) + " |")
    print("|---|" + "---:|" * len(types))
    for name, dims in REAL.items():
        cells = []
        for t in types:
            size, _ = file_size(dims, t, vocab)
            rss = size + state_bytes(dims)
            cells.append("%.0f MiB / ~%.0f MiB" % (size / 2**20, rss / 2**20))
        print("| %s | %s |" % (name, " | ".join(cells)))


if __name__ == "__main__":
    main()
