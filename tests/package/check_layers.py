#!/usr/bin/env python3
"""The layering of docs/design.md §1, checked on the sources: every `#include "..."` is
resolved to the layer that owns the header, and a layer may include only the layers the
table below allows (the CMake targets link the same way; a header reached through a
stray include path would compile and still break the layering).

  engine/             the library: its own headers only (and <attn/...>)
  workload/           the engine's public API only
  bench/ (kit incl.)  workload, its kit, engine internals (microbenchmarks); not the command line
  tools/attnlab/      workload, its own support; the lab's headers only from cmd_*.cpp
  tools/attnlab/lab/  workload, the command line's support, its own
  python/src/         workload, the command line's support (compare()); not the lab
  tests/testkit.*     workload only: every test links it, most without the command line

Usage: check_layers.py REPOSITORY_ROOT"""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# Include roots, most specific first: (directory, layer of the headers found there).
ROOTS = [("tools/attnlab/lab", "lab"), ("tools/attnlab", "cli"), ("workload/include", "workload"),
         ("bench", "bench"), ("engine/src", "engine_internal"), ("engine/include", "engine"),
         ("ring/include", "ring"), ("python/src", "python"), ("tests", "tests")]
SOURCE = (".cpp", ".hpp", ".h", ".inl")


def layer_of(root, path):
    rel = os.path.relpath(path, root)
    for d, layer in ROOTS:
        if rel == d or rel.startswith(d + "/"):
            return layer
    return "engine_internal" if rel.startswith("engine/") else rel.split("/")[0]


def allowed(rel_file, layer):
    """The layers a file may include, by where it is."""
    name = os.path.basename(rel_file)
    if rel_file.startswith("engine/"):
        return {"engine", "engine_internal"}
    if rel_file.startswith("workload/"):
        return {"engine", "workload"}
    if rel_file.startswith("bench/"):
        return {"engine", "engine_internal", "workload", "bench", "ring"}
    if rel_file.startswith("tools/attnlab/lab/"):
        return {"engine", "workload", "cli", "lab"}
    if rel_file.startswith("tools/attnlab/"):
        return {"engine", "workload", "cli", "ring"} | ({"lab"} if name.startswith("cmd_") else set())
    if rel_file.startswith("python/src/"):
        return {"engine", "workload", "cli", "python"}
    if rel_file.startswith("tests/") and name.startswith("testkit."):
        return {"engine", "workload", "tests"}
    return None  # not constrained


def resolve(root, including, header):
    """The file a quoted include names: beside the including file first, then each include root."""
    for base in [os.path.dirname(including)] + [os.path.join(root, d) for d, _ in ROOTS]:
        p = os.path.normpath(os.path.join(base, header))
        if os.path.isfile(p):
            return p
    return None


def main(root):
    problems, files = [], 0
    for top in ("engine", "workload", "bench", "tools/attnlab", "python/src", "tests"):
        for d, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if not n.endswith(SOURCE):
                    continue
                path = os.path.join(d, n)
                rel = os.path.relpath(path, root)
                ok = allowed(rel, layer_of(root, path))
                if ok is None:
                    continue
                files += 1
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for header in INCLUDE.findall(text):
                    target = resolve(root, path, header)
                    if target is None:
                        continue  # a system or generated header
                    layer = layer_of(root, target)
                    if layer not in ok:
                        problems.append(f"{rel}: includes \"{header}\" ({os.path.relpath(target, root)}, layer "
                                        f"{layer}); allowed: {', '.join(sorted(ok))}")
    for p in problems:
        print("FAIL", p)
    print(f"{files} files checked, {len(problems)} include(s) across the layers")
    return 1 if problems or files == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
