#!/usr/bin/env python3
"""docs/lab.md shows real output: regenerate it and compare.

Runs docs/lab/regenerate.sh into a temporary directory and checks that every
output and picture committed in docs/lab/ is byte-identical to a fresh one (and
that nothing generated is missing or stale), and that every ```text block in
docs/lab.md appears verbatim in one of the fresh outputs. The GloVe outputs
(docs/lab/glove/, written by regenerate-glove.sh) are regenerated and compared
the same way where the converted vectors exist (tools/fetch-glove.sh); elsewhere
they are left unchecked (said on stdout) and their committed text stands in.
Usage: check_lab_docs.py ATTNLAB_BINARY REPOSITORY_ROOT
"""
import difflib
import os
import re
import subprocess
import sys
import tempfile


def generated(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".txt", ".svg", ".html")):
                p = os.path.join(d, f)
                out[os.path.relpath(p, root)] = open(p, encoding="utf-8").read()
    return out


def main():
    binary, repo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    docs = os.path.join(repo, "docs", "lab")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([os.path.join(docs, "regenerate.sh"), binary, tmp], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            print("FAIL: regenerate.sh:", r.stderr)
            return 1
        glove = os.environ.get("ATTNLAB_GLOVE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "attnlab",
            "glove-100d.emb")
        have_glove = os.path.exists(glove)
        if have_glove:
            r = subprocess.run([os.path.join(docs, "regenerate-glove.sh"), binary, tmp], capture_output=True,
                               text=True, timeout=300)
            if r.returncode != 0:
                print("FAIL: regenerate-glove.sh:", r.stderr)
                return 1
        else:
            print(f"note: {glove} is not there (tools/fetch-glove.sh): docs/lab/glove/ is not regenerated")
        fresh, committed = generated(tmp), generated(docs)
        if not have_glove:
            for k in [k for k in committed if k.startswith("glove" + os.sep)]:
                fresh[k] = committed[k]
    for name in sorted(set(fresh) | set(committed)):
        if name not in committed:
            failures.append(f"docs/lab/{name} is generated but not committed")
        elif name not in fresh:
            failures.append(f"docs/lab/{name} is committed but no longer generated (stale)")
        elif fresh[name] != committed[name]:
            diff = list(difflib.unified_diff(committed[name].splitlines(), fresh[name].splitlines(), lineterm="", n=0))
            failures.append(f"docs/lab/{name} differs from a fresh run:\n  " + "\n  ".join(diff[:8]))
    text = open(os.path.join(repo, "docs", "lab.md"), encoding="utf-8").read()
    outputs = [v for k, v in fresh.items() if k.endswith(".txt")]
    blocks = re.findall(r"```text\n(.*?)```", text, re.S)
    if not blocks:
        failures.append("docs/lab.md has no ```text output blocks")
    for b in blocks:
        if not any(b in o for o in outputs):
            failures.append("docs/lab.md shows output that no command in regenerate.sh prints:\n  " + b[:300])
    for f in failures:
        print("FAIL:", f)
    if failures:
        print("Run docs/lab/regenerate.sh and update docs/lab.md.")
        return 1
    print(f"docs/lab: {len(fresh)} files and {len(blocks)} output blocks match a fresh run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
