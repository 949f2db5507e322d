#!/usr/bin/env python3
"""attnlab run under mpirun -np 2 when a rank dies: rank 1 is killed (SIGKILL) while the ring
computes; the job must fail (mpirun exits non-zero, within a minute: no rank left waiting) and
leave no output file, temporary or final.
Usage: check_run_mpi_rank_dies.py MPIRUN ATTNLAB"""
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

mpirun, attnlab = sys.argv[1], sys.argv[2]


def children(pid):
    """Process ids whose parent is `pid` (mpirun starts the local ranks itself)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry))
    return out


def rank_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
        return int(env.get(b"OMPI_COMM_WORLD_RANK", b"-1"))
    except OSError:
        return -1


failures = []
with tempfile.TemporaryDirectory() as tmp:
    # Seconds of compute per rank at one thread: time to kill rank 1 in the middle of it.
    x = np.random.default_rng(9).uniform(-1, 1, (4, 8192, 128)).astype(np.float32)
    path = os.path.join(tmp, "x.npy")
    np.save(path, x)
    out = os.path.join(tmp, "o.npy")
    job = subprocess.Popen([mpirun, "--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader", "-np", "2",
                            attnlab, "run", "--q", path, "--k", path, "--v", path, "--out", out, "--threads", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = []
    for line in job.stderr:  # rank 0 says when the ring starts
        log.append(line)
        if "ring attention over" in line:
            break
    victims = [p for p in children(job.pid) if rank_of(p) == 1]
    if not victims:
        failures.append("rank 1's process not found among mpirun's children")
        job.kill()
    else:
        os.kill(victims[0], signal.SIGKILL)
    start = time.monotonic()
    try:
        rest_out, rest_err = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        job.kill()
        rest_out, rest_err = job.communicate()
        failures.append("mpirun still running 60 s after rank 1 died: a rank was left waiting")
    log.append(rest_err)
    if job.returncode == 0:
        failures.append(f"mpirun exited 0 although rank 1 was killed (the ring had not finished yet?)\n{rest_out}")
    left = [n for n in os.listdir(tmp) if n != "x.npy"]
    if left:
        failures.append(f"files left after the failed job: {left}")

if failures:
    print("\n".join(failures))
    print("".join(log))
    sys.exit(1)
print(f"rank 1 killed: mpirun exited {job.returncode} after {time.monotonic() - start:.1f} s, no output left")
