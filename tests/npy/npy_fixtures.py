#!/usr/bin/env python3
"""NumPy's side of the .npy round-trip tests (tests/test_npy.cpp).

  npy_fixtures.py make DIR    writes fixtures with numpy.save / numpy.lib.format
  npy_fixtures.py check DIR   loads every attnlab-written DIR/out_*.npy with numpy.load,
                              checks its values and that the header is padded to 64 bytes

Values are arange(n) * 0.25 - 3, exact in float16 and float32 (n < 2000), so the C++ side
recomputes them. out_f2_*.npy files must hold '<f2', every other out_*.npy '<f4'.
"""
import os
import struct
import sys

import numpy as np


def values(shape, dtype):
    n = int(np.prod(shape, dtype=np.int64))
    return (np.arange(n, dtype=np.float64) * 0.25 - 3.0).astype(dtype).reshape(shape)


def raw(path, header, data=b"", version=(1, 0)):
    """A hand-made .npy file: header dict text as given (padded to 64 bytes), then data."""
    size = 2 if version[0] == 1 else 4
    total = (8 + size + len(header) + 1 + 63) // 64 * 64
    header = header + " " * (total - 8 - size - len(header) - 1) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes(version))
        f.write(struct.pack("<H" if size == 2 else "<I", len(header)))
        f.write(header.encode("latin1"))
        f.write(data)


def make(d):
    for name, shape in [("f4_2d", (3, 4)), ("f4_1d", (5,)), ("f4_scalar", ()), ("f4_4d", (2, 3, 4, 5)),
                        ("f4_empty", (0, 3))]:
        np.save(os.path.join(d, name + ".npy"), values(shape, "<f4"))
    np.save(os.path.join(d, "f8_2d.npy"), values((3, 4), "<f8"))
    for v in [(2, 0), (3, 0)]:
        with open(os.path.join(d, "f4_v%d.npy" % v[0]), "wb") as f:
            np.lib.format.write_array(f, values((3, 4), "<f4"), version=v)
    np.save(os.path.join(d, "f8_overflow.npy"), np.array([1e300, -1e300, 1.5, np.nan, np.inf]))
    for t in ["f2", "f4", "f8"]:
        np.save(os.path.join(d, "be_%s.npy" % t), values((3, 4), ">" + t))
    # float16: every rank and version, big-endian rows, and the values at its edges.
    for name, shape in [("f2_2d", (3, 4)), ("f2_scalar", ()), ("f2_4d", (2, 3, 4, 5)), ("f2_empty", (0, 3))]:
        np.save(os.path.join(d, name + ".npy"), values(shape, "<f2"))
    with open(os.path.join(d, "f2_v3.npy"), "wb") as f:
        np.lib.format.write_array(f, values((3, 4), "<f2"), version=(3, 0))
    np.save(os.path.join(d, "be_f2_3d.npy"), values((2, 5, 3), ">f2"))
    np.save(os.path.join(d, "f2_edges.npy"),
            np.array([np.inf, -np.inf, np.nan, 65504, 2.0**-24, -0.0, 2.0**-14, -1.5], dtype="<f2"))
    # float32 values NumPy rounds to float16 (ties both ways, the largest finite, overflow,
    # subnormals), and NumPy's rounding of them: the reader's rounding must agree bit for bit.
    near = [1 + 2.0**-11, 1 + 3 * 2.0**-11, 65504, 65519, 65520, 1e5, -1e5, 3.4028235e38, 2.0**-25,
            3 * 2.0**-26, 2.0**-24 * 1.5, 1e-8, np.nan, -np.inf, 0.1, -2.5]
    np.save(os.path.join(d, "round_f4.npy"), np.array(near, dtype="<f4"))
    with np.errstate(over="ignore"):
        np.save(os.path.join(d, "round_f4_as_f2.npy"), np.array(near, dtype="<f4").astype("<f2"))
    np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(values((3, 4), "<f4")))
    np.save(os.path.join(d, "int32.npy"), np.arange(6, dtype="<i4"))
    np.save(os.path.join(d, "complex64.npy"), np.arange(6, dtype="<c8"))
    np.save(os.path.join(d, "object.npy"), np.array([1, "a"], dtype=object), allow_pickle=True)
    np.save(os.path.join(d, "structured.npy"), np.zeros(3, dtype=[("a", "<f4")]))
    # The keys in another order than NumPy writes them (any order is valid).
    raw(os.path.join(d, "keys_reordered.npy"), "{'shape': (3, 4), 'fortran_order': False, 'descr': '<f4', }",
        values((3, 4), "<f4").tobytes())
    # Truncated: the header promises 3 x 4 float32 (48 bytes), the file has 20.
    raw(os.path.join(d, "truncated.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
        values((5,), "<f4").tobytes())


def check(d):
    names = sorted(n for n in os.listdir(d) if n.startswith("out_") and n.endswith(".npy"))
    if not names:
        sys.exit("check: no out_*.npy files in " + d)
    for n in names:
        path = os.path.join(d, n)
        with open(path, "rb") as f:
            head = f.read(10)
        header_len = struct.unpack("<H", head[8:10])[0]
        if head[6:8] != b"\x01\x00" or (10 + header_len) % 64 != 0:
            sys.exit("check: %s: version %r, header of %d bytes not padded to 64" % (n, head[6:8], 10 + header_len))
        a = np.load(path)
        dtype = "<f2" if n.startswith("out_f2_") else "<f4"
        want = values(a.shape, dtype)
        if a.dtype != np.dtype(dtype) or not np.array_equal(a, want):
            sys.exit("check: %s: dtype %s shape %s differs from the expected values" % (n, a.dtype, a.shape))
        print("ok", n, a.shape)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    (make if sys.argv[1] == "make" else check)(sys.argv[2])
