#!/usr/bin/env python3
"""End-to-end checks of `attnlab lab` through its command line.

Runs the real binary, parses every SVG it writes with Python's XML parser,
matches the cells and arrows to the weights printed by --json, and checks the
exit status and messages of bad --predict tables and the terminal colour rule.
Usage: check_lab.py ATTNLAB_BINARY
"""
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(binary, *args, cwd=None):
    return subprocess.run([binary, "lab", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def classes(el):
    return el.get("class", "").split()


def check_predictions(binary, tmp):
    """--template, --predict per file (any word order), every head, causal flags, a CSV given as a sentence."""
    r = run(binary, "--template", "The cat sat on the mat", "--causal")
    check(r.returncode == 0 and r.stdout.count("\n") >= 7, f"--template prints a table: {r.stderr!r}")
    tpl = os.path.join(tmp, "predict.csv")
    with open(tpl, "w") as f:
        f.write(r.stdout)
    reordered = os.path.join(tmp, "reordered.csv")
    with open(reordered, "w") as f:
        f.write(",AI,I,love\nAI,0.2,0.4,0.4\nI,0.4,0.25,0.35\nlove,0.4,0.3,0.3\n")
    r = run(binary, "I love AI", "The cat sat on the mat", "--predict", tpl, "--predict", reordered, "--heads", "2",
            "--causal", "--json", "--no-pictures")
    check(r.returncode == 0, f"two predictions, two heads: {r.stderr!r}")
    if r.returncode == 0:
        d = json.loads(r.stdout)
        preds = d["predictions"]
        check([p["sentence"] for p in preds] == [2, 1], f"matched by words: {[p['sentence'] for p in preds]}")
        check(preds[1]["reordered"] and all(abs(a - b) < 1e-7 for a, b in zip(preds[1]["predicted"][0], [0.25, 0.35, 0.4])),
              f"another order is aligned to the sentence: {preds[1]['predicted']}")
        check(all(len(p["heads"]) == 2 for p in preds), "every head is compared")
        flagged = {(g["query"], g["key"]) for g in preds[1]["heads"][0]["predicted_on_masked"]}
        check(flagged == {("I", "love"), ("I", "AI"), ("love", "AI")}, f"causal: guesses on hidden keys flagged: {flagged}")
        check(preds[0]["heads"][0]["predicted_on_masked"] == [], "the causal template leaves hidden keys at 0")
    r = run(binary, "I love AI", "--predict", reordered, tpl, "--no-pictures")
    check(r.returncode == 2 and "is a CSV file: give --predict once per file" in r.stderr,
          f"a second CSV after --predict is not taken for a sentence: {r.stderr!r}")
    r = run(binary, "I love AI", "--projection", "identity", "--dk", "3", "--no-pictures")
    check(r.returncode == 2 and "--dk: identity projections keep d_k = d_v = d_model" in r.stderr,
          f"identity projections refuse another d_k: {r.stderr!r}")
    r = run(binary, "I love AI", "--causal", "--no-pictures")
    check("cannot be compared under the causal mask" in r.stdout, "no symmetry line against a masked 0")
    r = run(binary, "The cat sat on the mat", "--no-pictures")
    check("Tie:" in r.stdout and "(tie)" in r.stdout, "a tie between The and the is said")


def check_out_folder(binary, tmp):
    """A rerun into its own folder replaces its files, removes its stale ones, touches nothing else."""
    out = os.path.join(tmp, "rerun")
    os.makedirs(out)
    mine = os.path.join(out, "notes.txt")
    with open(mine, "w") as f:
        f.write("keep me")
    r = run(binary, "I love AI", "AI loves me", "--out", out)
    check(r.returncode == 0 and os.path.exists(os.path.join(out, "s2-ai-loves-me-h1-heatmap.svg")), "first run")
    r = run(binary, "I love AI", "--out", out)
    names = sorted(os.listdir(out))
    check(names == [".attnlab-lab-files", "lab.html", "notes.txt", "s1-i-love-ai-h1-arrows.svg",
                    "s1-i-love-ai-h1-heatmap.svg"], f"only the rerun's files and the user's remain: {names}")
    check(open(mine).read() == "keep me", "the user's file is untouched")
    blocker = os.path.join(tmp, "a-file")
    with open(blocker, "w") as f:
        f.write("x")
    r = run(binary, "I love AI", "--out", blocker)
    check(r.returncode == 2 and "--out: '" + blocker + "' exists and is not a directory" in r.stderr,
          f"--out onto a file is refused before computing: {r.stderr!r}")


def check_against_numpy(binary):
    """Every step of the notebook recomputed in NumPy fp64 from the JSON's X and W.

    Inputs are fp32 (u = 2^-24 = 6e-8) in [-1, 1] with d = 4: each fp64-accumulated, fp32-rounded
    entry of Q, K, V is within u·max|.| of the fp64 value; scores, exp, row sums, weights and outputs
    are sums of at most 8 such terms of size <= 4, so 1e-6 absolute covers them with a margin of > 10.
    """
    import numpy as np
    for extra in ([], ["--causal", "--heads", "2"], ["--projection", "identity", "--dim", "6"]):
        r = run(binary, "I love AI deeply", "The cat sat on the mat", "--json", "--no-pictures", *extra)
        check(r.returncode == 0, f"json for numpy {extra}: {r.stderr!r}")
        if r.returncode:
            continue
        d = json.loads(r.stdout)
        worst = 0.0
        for s in d["sentences"]:
            x = np.array(s["x"], dtype=np.float64)
            norm = np.linalg.norm(x, axis=1)
            worst = max(worst, np.abs(np.array(s["cosine"]) - (x @ x.T) / np.outer(norm, norm)).max())
            n = x.shape[0]
            for h in s["heads"]:
                q, k, v = (x @ np.array(h[m], dtype=np.float64) for m in ("w_q", "w_k", "w_v"))
                for name, ref in (("q", q), ("k", k), ("v", v)):
                    worst = max(worst, np.abs(np.array(h[name]) - ref).max())
                scores = q @ k.T / np.sqrt(q.shape[1])
                if d["causal"]:
                    scores[np.triu_indices(n, 1)] = -np.inf
                mx = scores.max(axis=1, keepdims=True)
                e = np.exp(scores - mx)
                w = e / e.sum(axis=1, keepdims=True)
                got = np.array([[np.nan if c is None else c for c in row] for row in h["scores"]])
                vis = np.isfinite(scores)
                worst = max(worst, np.abs(got[vis] - scores[vis]).max())
                worst = max(worst, np.abs(np.array(h["row_max"]) - mx[:, 0]).max())
                worst = max(worst, np.abs(np.array(h["exp_scores_minus_max"]) - e).max())
                worst = max(worst, np.abs(np.array(h["row_sum"]) - e.sum(axis=1)).max() / n)
                worst = max(worst, np.abs(np.array(h["weights"]) - w).max())
                worst = max(worst, np.abs(np.array(h["output"]) - w @ v).max())
                wc = h["worked_cell"]
                qi, kj = s["tokens"].index(wc["query"]), s["tokens"].index(wc["key"])
                worst = max(worst, abs(wc["weight"] - w[qi, kj]))
        check(worst < 1e-6, f"numpy fp64 agrees with every step {extra}: max |difference| {worst:.2e}")
        print(f"numpy fp64 {extra or ['default']}: max |difference| {worst:.2e}")


def notebook_tables(path):
    """{table id: rows of cell texts} for every step table in lab.html (div.step[id] > table)."""
    from html.parser import HTMLParser

    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.current, self.row, self.cell = {}, None, None, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "div" and "step" in a.get("class", "").split() and a.get("id"):
                self.current = a["id"]
                self.tables[self.current] = []
            elif tag == "tr" and self.current:
                self.row = []
            elif tag in ("td", "th") and self.row is not None:
                self.cell = ""

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                self.row.append(self.cell.strip())
                self.cell = None
            elif tag == "tr" and self.row is not None:
                self.tables[self.current].append(self.row)
                self.row = None
            elif tag == "table":
                self.current = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    p = P()
    p.feed(open(path, encoding="utf-8").read())
    return p.tables


def check_notebook_against_numpy(binary, tmp):
    """The numbers printed in lab.html (3 decimals) are NumPy fp64's, rounded: within 0.0005 + 1e-6."""
    import numpy as np
    out = os.path.join(tmp, "notebook")
    r = run(binary, "I love AI deeply", "The cat sat on the mat", "--causal", "--heads", "2", "--json", "--out", out)
    check(r.returncode == 0, f"notebook run: {r.stderr!r}")
    if r.returncode:
        return
    d = json.loads(r.stdout)
    tables = notebook_tables(os.path.join(out, "lab.html"))
    worst, cells = 0.0, 0
    for si, s in enumerate(d["sentences"]):
        x = np.array(s["x"], dtype=np.float64)
        n = x.shape[0]
        for hi, h in enumerate(s["heads"]):
            q, k, v = (x @ np.array(h[m], dtype=np.float64) for m in ("w_q", "w_k", "w_v"))
            scores = q @ k.T / np.sqrt(q.shape[1])
            scores[np.triu_indices(n, 1)] = -np.inf
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            w = e / e.sum(axis=1, keepdims=True)
            want = {"q": q, "k": k, "v": v, "scores": scores, "exp": e, "weights": w, "output": w @ v}
            for step, ref in want.items():
                rows = tables.get(f"s{si + 1}-h{hi + 1}-{step}")
                check(rows is not None and len(rows) == n + 1, f"notebook table s{si + 1}-h{hi + 1}-{step}")
                if not rows:
                    continue
                for i, row in enumerate(rows[1:]):
                    for j in range(ref.shape[1]):
                        text = row[1 + j]
                        if step in ("scores", "exp", "weights") and j > i:  # causal: hidden keys
                            check(text == "\u00b7", f"{step}[{i}][{j}] masked shows a dot: {text!r}")
                            continue
                        worst = max(worst, abs(float(text) - ref[i, j]))
                        cells += 1
    check(worst <= 0.0005 + 1e-6, f"notebook cells agree with NumPy fp64 to their 3 decimals: {worst:.2e}")
    print(f"notebook: {cells} cells, max |printed - numpy fp64| {worst:.2e}")


def main():
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pics")
        sentences = ["I love AI", "AI loves me", "I love AI deeply"]
        for causal in ([], ["--causal"]):
            r = run(binary, *sentences, "--heads", "2", "--json", "--out", out, "--top-k", "2", *causal)
            check(r.returncode == 0, f"lab --json exits 0 (got {r.returncode}: {r.stderr})")
            data = json.loads(r.stdout)
            check(len(data["sentences"]) == 3, "three sentences in the JSON")
            svgs = [f for f in data["files"] if f.endswith(".svg")]
            check(len(svgs) == 3 * 2 * 2, f"a heatmap and an arrows SVG per sentence and head ({len(svgs)})")
            for si, s in enumerate(data["sentences"]):
                n = len(s["tokens"])
                for h, head in enumerate(s["heads"]):
                    w = head["weights"]
                    for row in w:
                        check(abs(sum(row) - 1) < 1e-5, f"row sums to 1: {row}")
                    prefix = [f for f in svgs if os.path.basename(f).startswith(f"s{si + 1}-") and f"-h{h + 1}-" in f]
                    heat = [f for f in prefix if f.endswith("heatmap.svg")][0]
                    arrows = [f for f in prefix if f.endswith("arrows.svg")][0]
                    root = ET.parse(heat).getroot()  # raises on malformed XML
                    cells = [e for e in root.iter(SVG + "rect") if "cell" in classes(e)]
                    check(len(cells) == n * n, f"{heat}: {len(cells)} cells, want {n * n}")
                    for c in cells:
                        i, j = int(c.get("data-q")), int(c.get("data-k"))
                        masked = bool(causal) and j > i
                        check(("masked" in classes(c)) == masked, f"{heat}: cell {i},{j} masked flag")
                        if not masked:
                            check(abs(float(c.get("data-w")) - w[i][j]) <= 5e-7 + 1e-9, f"{heat}: cell {i},{j} weight")
                    root = ET.parse(arrows).getroot()
                    paths = [e for e in root.iter(SVG + "path") if "arrow" in classes(e)]
                    want = 0
                    for i in range(n):
                        visible = [w[i][j] for j in range(n) if not (causal and j > i) and w[i][j] > 0]
                        want += min(2, len(visible))
                    check(len(paths) == want, f"{arrows}: {len(paths)} arrows with --top-k 2, want {want}")
                    for p in paths:
                        i, j = int(p.get("data-q")), int(p.get("data-k"))
                        check(abs(float(p.get("data-w")) - w[i][j]) <= 5e-7 + 1e-9, f"{arrows}: arrow {i}->{j} weight")

        # From 10 words on, arrows are thinned to 3 per word, and the legend says so; still valid SVG.
        long_sentence = " ".join(f"w{i % 30}" for i in range(45))
        r = run(binary, long_sentence, "--out", os.path.join(tmp, "long"), "--json")
        check(r.returncode == 0, f"long input runs: {r.stderr!r}")
        files = json.loads(r.stdout)["files"]
        arrows = ET.parse([f for f in files if f.endswith("arrows.svg")][0]).getroot()
        paths = [e for e in arrows.iter(SVG + "path") if "arrow" in classes(e)]
        check(len(paths) == 45 * 3, f"long input: {len(paths)} arrows, want 3 per word")
        legend = "".join(arrows.itertext())
        check("strongest of its 45 arrows are drawn (k = 3" in legend, "the legend states k")
        heat = ET.parse([f for f in files if f.endswith("heatmap.svg")][0]).getroot()
        check(float(heat.get("width")) <= 1300, "long input heatmap stays within 1300 px")
        r = run(binary, "I love AI", "--embeddings", os.path.join(tmp, "missing.csv"), "--no-pictures")
        check(r.returncode == 2 and "missing.csv" in r.stderr, f"missing embeddings file: {r.stderr!r}")
        emb = os.path.join(tmp, "emb.csv")
        with open(emb, "w") as f:
            f.write("I,1,0,0\nlove,0,1,0\nAI,0,0,1\n")
        r = run(binary, "I love AI", "--embeddings", emb, "--dim", "4", "--no-pictures")
        check(r.returncode == 2 and "--dim 4 disagrees with --embeddings" in r.stderr, f"--dim conflict: {r.stderr!r}")
        r = run(binary, "I love AI", "--embeddings", emb, "--no-pictures")
        check(r.returncode == 0 and "d_model = 3" in r.stdout, "the embeddings file sets d_model")

        # .npy embeddings with a vocabulary, and a .npy W_Q (numpy is in Debian's python3).
        import numpy as np
        npy_emb, vocab, wq = (os.path.join(tmp, n) for n in ("emb.npy", "vocab.txt", "wq.npy"))
        np.save(npy_emb, np.array([[1, 0, 0], [0, 1, 0], [0.5, 0.25, -1]], dtype=np.float64))
        with open(vocab, "w") as f:
            f.write("I\nlove\nAI\n")
        np.save(wq, np.eye(3, 4, dtype=np.float32))
        r = run(binary, "AI love i", "--embeddings", npy_emb, "--vocab", vocab, "--wq", wq, "--json", "--no-pictures")
        check(r.returncode == 0, f".npy embeddings run: {r.stderr!r}")
        if r.returncode == 0:
            d = json.loads(r.stdout)
            check(d["dim"] == 3 and d["sentences"][0]["x"][0] == [0.5, 0.25, -1], f".npy rows by vocabulary: {d['sentences'][0]['x']}")
            check(d["sentences"][0]["heads"][0]["q"][0] == [0.5, 0.25, -1, 0], "Q = X W_Q with W_Q from the .npy")
        r = run(binary, "I", "--embeddings", npy_emb, "--no-pictures")
        check(r.returncode == 2 and "--vocab" in r.stderr, f".npy without --vocab exits 2 naming it: {r.stderr!r}")

        # Text mode: no ANSI escapes when stdout is a pipe, unless --color.
        r = run(binary, "I love AI", "--no-pictures")
        check(r.returncode == 0 and "\x1b[" not in r.stdout, "no colour when stdout is not a terminal")
        check("| row sum |" in r.stdout and "1.000 |" in r.stdout, "weights table shows row sums")
        r = run(binary, "I love AI", "--no-pictures", "--color")
        check("\x1b[48;2;" in r.stdout, "--color forces the ANSI heatmap")

        # Predictions: a good table is compared; bad ones exit 2 naming the row.
        good = os.path.join(tmp, "good.csv")
        with open(good, "w") as f:
            f.write(",I,love,AI\nI,0.25,0.35,0.40\nlove,0.30,0.30,0.40\nAI,0.20,0.40,0.40\n")
        r = run(binary, "I love AI", "--predict", good, "--no-pictures")
        check(r.returncode == 0 and "predicted top key" in r.stdout and "Predicted (yours)" in r.stdout
              and "Difference (computed - predicted)" in r.stdout,
              f"prediction compared side by side ({r.returncode}: {r.stderr})")
        bad = os.path.join(tmp, "bad.csv")
        with open(bad, "w") as f:
            f.write(",I,love,AI\nI,0.25,0.35,0.40\nlove,0.30,0.30,0.30\nAI,0.20,0.40,0.40\n")
        r = run(binary, "I love AI", "--predict", bad, "--no-pictures")
        check(r.returncode == 2, f"bad prediction exits 2 (got {r.returncode})")
        check("row 2 ('love')" in r.stderr and "0.9000" in r.stderr, f"message names the row: {r.stderr!r}")
        r = run(binary, "Birds can fly", "--predict", good, "--no-pictures")
        check(r.returncode == 2 and "not the tokens of any sentence" in r.stderr, f"unmatched words: {r.stderr!r}")
        r = run(binary, "I love AI", "--kernel", "nope", "--no-pictures")
        check(r.returncode == 2 and "--kernel" in r.stderr, f"unknown kernel exits 2: {r.stderr!r}")
        r = run(binary, "I love AI", "--out", "/proc/attnlab-cannot-write")
        check(r.returncode == 2 and "--out: " in r.stderr and "/proc/attnlab-cannot-write" in r.stderr,
              f"unwritable --out named: {r.stderr!r}")

        check_predictions(binary, tmp)
        check_out_folder(binary, tmp)
        check_against_numpy(binary)
        check_notebook_against_numpy(binary, tmp)

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("lab CLI: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
