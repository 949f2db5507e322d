"""docs/python/compare_with_torch.py, the guide's script, runs end to end on small shapes:
its table names every kernel and both torch contenders with errors within the float32
bound, and it writes a PNG (atomically, to the path given)."""
import os
import re
import struct
import subprocess
import sys
import tempfile

import attnlab

SCRIPT = os.path.join(os.environ.get("ATTN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                      "docs", "python", "compare_with_torch.py")


def test_the_comparison_script_runs_and_draws():
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "c.png")
        r = subprocess.run([sys.executable, SCRIPT, "--shapes", "16x16x8x2,5x9x4", "--reps", "1", "--threads", "2",
                            "--out", png], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        rows = [l.split() for l in r.stdout.splitlines()[1:] if re.match(r"\d+x", l)]
        names = {" ".join(row[1:-3]) for row in rows}
        want = {f"attnlab {k['name']}" for k in attnlab.kernels()} | {
            "torch _scaled_dot_product_attention", "torch math (matmul, softmax, matmul)"}
        assert names == want, names
        assert len(rows) == 2 * len(want)
        for row in rows:
            # conftest.error_bound's worst case for inputs in [-1, 1): A <= sqrt(d), max|V| <= 1.
            nq, nk, d = (int(x) for x in row[0].split("x")[:3])
            assert float(row[-1]) <= (2 * (d + 2) * d**0.5 + 2 * nk + 17) * 2.0**-24, row
        with open(png, "rb") as f:
            head = f.read(24)
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", head[16:24])
        assert width > 100 and height > 100
        assert os.listdir(tmp) == ["c.png"]  # no temporary left behind


def test_the_script_refuses_bad_shapes():
    r = subprocess.run([sys.executable, SCRIPT, "--shapes", "16x0x8"], capture_output=True, text=True)
    assert r.returncode == 2 and "shape '16x0x8': expected Nq x Nk x d [x H], positive sizes" in r.stderr
