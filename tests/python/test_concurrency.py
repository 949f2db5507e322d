"""Calls from several Python threads run with the GIL released and give exactly the
serial results (the engine is deterministic for any thread count and keeps one
workspace per calling thread)."""
import threading

import numpy as np

import attnlab


def test_four_threads_times_fifty_calls_equal_serial_results():
    rng = np.random.default_rng(7)
    # Different shapes, kernels and options per call, so threads overlap on unlike work.
    calls = []
    for i in range(50):
        nq, nk = int(rng.integers(1, 80)), int(rng.integers(1, 80))
        q = rng.uniform(-1, 1, (2, 4, nq, 32)).astype(np.float32)
        k = rng.uniform(-1, 1, (2, 2, nk, 32)).astype(np.float32)
        v = rng.uniform(-1, 1, (2, 2, nk, 16)).astype(np.float32)
        kernel = ["fused", "blas", "reference", "auto"][i % 4]
        calls.append((q, k, v, dict(kernel=kernel, enable_gqa=True, is_causal=bool(i % 3 == 0),
                                    causal_align="bottom-right", return_lse=True, threads=1 + i % 2)))
    serial = [attnlab.attention(q, k, v, **kw) for q, k, v, kw in calls]

    results = [[None] * len(calls) for _ in range(4)]
    errors = []
    start = threading.Barrier(4)

    def worker(t):
        try:
            start.wait()
            order = range(len(calls)) if t % 2 == 0 else reversed(range(len(calls)))
            for i in order:
                q, k, v, kw = calls[i]
                results[t][i] = attnlab.attention(q, k, v, **kw)
        except BaseException as e:  # reported below: a thread's exception is otherwise lost
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    for t in range(4):
        for i, (out, lse) in enumerate(serial):
            got_out, got_lse = results[t][i]
            assert np.array_equal(got_out, out, equal_nan=True), f"thread {t} call {i}: output"
            assert np.array_equal(got_lse, lse, equal_nan=True), f"thread {t} call {i}: lse"


def test_the_gil_is_released_while_the_engine_computes():
    """The main thread keeps executing Python while another thread is inside a long call:
    it counts steps, and the caller reads the count just before and just after its call.
    Were the GIL held during the call, the main thread could take no step inside it (a few at
    most, between the read and the call). No clock is read: a slow or loaded machine only
    makes the count smaller, never zero, while the call lasts ~0.3 s."""
    q = np.random.default_rng(1).uniform(-1, 1, (1, 1, 2048, 64)).astype(np.float32)
    k = q[:, :, :1024]
    steps = [0]
    seen = {}
    go, done = threading.Event(), threading.Event()

    def caller():
        go.wait()
        before = steps[0]
        attnlab.attention(q, k, k, kernel="reference", threads=1)
        seen["during"] = steps[0] - before
        done.set()

    th = threading.Thread(target=caller)
    th.start()
    go.set()  # from here the main thread steps until the call is over
    while not done.is_set():
        steps[0] += 1
    th.join()
    assert seen["during"] > 1000, f"the main thread took only {seen['during']} steps during the call"
