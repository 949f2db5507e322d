#!/usr/bin/python3
"""Every command shown in README.md and docs/*.md runs, and prints what the page says.

Usage: check_docs.py REPOSITORY_ROOT BUILD_DIR PAGE.md [PAGE.md ...]
       check_docs.py REPOSITORY_ROOT BUILD_DIR --update PAGE.md ...  (also writes what each differing
           fenced command printed into the page, where its output has no "..." and no "exit status")
       check_docs.py REPOSITORY_ROOT BUILD_DIR --list       (the commands, and which are skipped)

What counts as a command on a page:
  - in a fenced block (``` with no language, or sh, bash, shell, console): each line
    starting with "$ ". The lines after it, up to the next "$ " line or the end of the
    block, are its output;
  - in an indented code block (4 spaces): each line that is not blank or a comment. Its
    output, when the page shows one, is the next ```text block (or ``` block without "$ "
    lines) before any other code block, and may be an excerpt of what the command prints;
  - a line ending in a backslash continues on the next line.
A command that cannot run here (it installs packages, needs mpirun or a download, or
benchmarks for minutes) carries a visible marker saying why, on its line or alone as the
first line of its block (then for the whole block):
      # not run by the docs test: <why>
Anything else that looks like a command (build/..., tools/..., attnlab, python3, cmake,
ctest, mpirun, ...) without "$ " in a fenced block is an error, so no command is left
untested by accident.

How it runs: each page's commands, in order, in a fresh directory holding links to the
repository's top-level entries (docs/ copied) and `build` -> BUILD_DIR, so the page's
relative paths work and what the commands write stays out of the repository. Assignments (`$ A=...`) carry over
to the page's later commands. A command must exit 0, unless its output ends with a line
"exit status N"; its output is compared with stdout, or with stderr when it fails, or with
the file its stdout went to when it ends in "> FILE".

Comparison, after normalising both sides: trailing blanks, table cell padding, durations
(12.3 ms), rates (GFLOP/s), thread counts, error figures (max abs err 1.2e-07) and the CPU
and BLAS core names are replaced by placeholders, as they differ from machine to machine;
everything else must match exactly. A line "..." in the page's output stands for any
number of lines.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MARKER = "# not run by the docs test:"
SHELL_LANGS = {"", "sh", "bash", "shell", "console"}
# First words of lines that are commands; used to find commands written without "$ ".
COMMAND_WORD = re.compile(
    r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*"
    r"(?:build/|tools/|docs/|bench/|\./|\$A(?=\s)|\$\{?[A-Z_]+\}?/|"
    r"attnlab\s+(?:compare|run|softmax|scaling|lab|bench|-)|"
    r"(?:/usr/bin/python3|python3?|cmake|ctest|mpirun|mpiexec|git|sudo|apt-get|pip3?|lscpu)(?=\s|$))")
# Commands that would change the machine or the build the test runs against: never run, must be marked.
NEVER_RUN = re.compile(r"(?:^|[\s;&|(])(?:tools/build\.sh|tools/install-deps\.sh|tools/fuzz\.sh|cmake|apt-get|sudo|git)(?=\s|$)")
REDIRECT = re.compile(r"(?<![0-9&])>\s*([\w./-]+)\s*$")  # stdout sent to a file at the end of a command
COMMAND_TIMEOUT_S = 120  # a page command that needs longer is marked instead


class Command:
    def __init__(self, page, line, text, skip=None):
        self.page, self.line, self.text, self.skip = page, line, text, skip
        self.expected = None  # list of lines, or None when the page shows no output
        self.excerpt = False  # expected output may be a part of the actual output
        self.out_line = None  # where a fenced command's output starts on the page (for --update)
        self.actual = None  # what it printed, when that differs from the page

    def where(self):
        return f"{self.page}:{self.line}"


def strip_marker(text):
    """(command without the marker, reason or None)."""
    i = text.find(MARKER)
    if i < 0:
        return text, None
    reason = text[i + len(MARKER):].strip()
    return text[:i].rstrip(), reason


def joined(lines, i):
    """The command starting at lines[i] with its backslash continuations, and the next index."""
    parts = [lines[i]]
    while parts[-1].rstrip().endswith("\\") and i + 1 < len(lines):
        i += 1
        parts.append(lines[i])
    return "\n".join(parts), i + 1


def blocks(text):
    """Code blocks of a Markdown page: (kind, language, first line number, lines)."""
    lines = text.split("\n")
    out, i, prev_blank = [], 0, True
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", line)
        if m:
            fence, lang, start = m.group(2), m.group(3), i + 1
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                body.append(lines[i][len(m.group(1)):] if lines[i].startswith(m.group(1)) else lines[i])
                i += 1
            out.append(("fenced", lang.lower(), start + 1, body))
            i += 1
            prev_blank = False
            continue
        if prev_blank and line.startswith("    ") and line.strip() and not re.match(r"^\s*([-*+]|\d+\.)\s", line):
            start, body = i + 1, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            out.append(("indented", "", start, body))
            prev_blank = False
            continue
        prev_blank = not line.strip()
        i += 1
    return out


def commands(page, text):
    """The page's commands (with their expected output) and the problems found reading it."""
    cmds, problems = [], []
    pending = None  # an indented block's last command, waiting for a ```text block
    for kind, lang, first, body in blocks(text):
        block_skip = None
        if body and body[0].strip().startswith(MARKER):
            block_skip = strip_marker(body[0].strip())[1]
            body = body[1:]
            first += 1
        if kind == "indented" or (block_skip is not None and lang in SHELL_LANGS):  # a line, a command
            pending = None
            i = 0
            while i < len(body):
                line = body[i]
                if not line.strip() or line.lstrip().startswith("#"):
                    i += 1
                    continue
                start = i
                text_, i = joined(body, i)
                cmd_text, reason = strip_marker(text_)
                cmds.append(Command(page, first + start, cmd_text, reason or block_skip))
                pending = cmds[-1]
            continue
        if pending is not None and (lang == "text" or (lang == "" and not any(l.startswith("$ ") for l in body))):
            pending.expected, pending.excerpt = body, True
            pending = None
            continue
        pending = None
        if lang not in SHELL_LANGS:
            continue
        i, current = 0, None
        while i < len(body):
            line = body[i]
            if line.startswith("$ "):
                start = i
                text_, i = joined(body, i)
                cmd_text, reason = strip_marker(text_[2:])
                current = Command(page, first + start, cmd_text, reason or block_skip)
                current.expected, current.out_line = [], first + i  # 1-based line of the first output line
                cmds.append(current)
                continue
            if current is not None:
                current.expected.append(line)
            elif COMMAND_WORD.match(line.strip()):
                problems.append(f"{page}:{first + i}: '{line.strip()[:80]}' looks like a command but has no '$ ' "
                                f"(write '$ {line.strip()[:40]}...', or mark it '{MARKER} <why>')")
            i += 1
    for c in cmds:
        if c.skip is not None and len(c.skip.split()) < 2:
            problems.append(f"{c.where()}: '{MARKER}' needs a reason of a few words, got '{c.skip}'")
    return cmds, problems


# ---- Normalisation -------------------------------------------------------------------

NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
RULES = [
    (re.compile(NUM + r"\s?(?:ns|us|µs|ms|s|min)\b"), "<time>"),
    (re.compile(r"(GFLOP/s:?|GB/s:?)\s+" + NUM), r"\1 <rate>"),
    (re.compile(r"\b\d+ thread\(s\)"), "<n> thread(s)"),
    (re.compile(r"^(threads:)\s*\d+$"), r"\1 <n>"),
    (re.compile(r"(max (?:abs|rel) err(?:or)?|LSE max abs err|difference from NumPy float64:)\s+" + NUM), r"\1 <err>"),
    (re.compile(r"(median of)\s+\d+\s+runs?"), r"\1 <n> runs"),
    (re.compile(r"^attnlab compare: .*?; seed"), "attnlab compare: <cpu, isa>; seed"),
    (re.compile(r"blas = OpenBLAS, \S+ kernels"), "blas = OpenBLAS, <core> kernels"),
    (re.compile(r"^note: blas: .*$"), "note: blas: <advice>"),
    (re.compile(r"(cpu|CPU)( model)?:\s.*$"), r"\1\2: <cpu>"),
    (re.compile(r"(isa|ISA):\s+\S+"), r"\1: <isa>"),
]
# Table columns whose cells are timings or depend on the CPU's instruction set (errors, and the
# workspace: the fused kernel's tiles and per-thread buffers follow the ISA and thread count).
MACHINE_COLUMNS = {"median", "gflop/s", "reps", "max abs err", "max rel err", "err / blas", "workspace", "time", "%peak", "gb/s"}
# Cells of a row whose last digits follow the SIMD ISA the process runs (the softmax lesson's
# vectorised variant sums in the widest vectors the CPU, or ATTN_ISA, allows).
ISA_CELLS = {"vectorised": {"weights", "σ weights"}}


def normalise(lines):
    out, header = [], None
    for raw in lines:
        line = raw.rstrip()
        if line.startswith("|") and line.endswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if header is None:
                header = [c.lower() for c in cells]
            elif all(re.fullmatch(r":?-+:?", c) for c in cells if c):  # the separator: its width follows the cells
                cells = ["---" for _ in cells]
            else:
                isa_cols = ISA_CELLS.get(cells[0], set())
                cells = ["<m>" if j < len(header) and (header[j] in MACHINE_COLUMNS or header[j] in isa_cols) and c
                         else c for j, c in enumerate(cells)]
            line = "| " + " | ".join(cells) + " |"
        else:
            header = None
        for pattern, repl in RULES:
            line = pattern.sub(repl, line)
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def matches(expected, actual, excerpt):
    """Whether `expected` ("..." lines skip any lines) matches all of `actual` (or a contiguous part)."""
    def at(e, a):
        if e == len(expected):
            return excerpt or a == len(actual)
        if expected[e] == "...":
            return any(at(e + 1, k) for k in range(a, len(actual) + 1))
        return a < len(actual) and expected[e] == actual[a] and at(e + 1, a + 1)
    starts = range(len(actual) + 1) if excerpt else [0]
    return any(at(0, s) for s in starts)


# ---- Running -----------------------------------------------------------------------------

def sandbox(repo, build, tmp):
    """Links to the repository's entries (docs/ copied: commands may write there), build -> BUILD_DIR."""
    for name in os.listdir(repo):
        if name in (".git", "build"):
            continue
        if name == "docs":
            shutil.copytree(os.path.join(repo, name), os.path.join(tmp, name), symlinks=True)
        else:
            os.symlink(os.path.join(repo, name), os.path.join(tmp, name))
    os.symlink(build, os.path.join(tmp, "build"))


def run_page(repo, build, page, cmds):
    failures, ran, skipped = [], 0, 0
    assignments = []
    with tempfile.TemporaryDirectory(prefix="docs-test-") as tmp:
        sandbox(repo, build, tmp)
        for c in cmds:
            if c.skip is not None:
                skipped += 1
                continue
            if NEVER_RUN.search(c.text):
                failures.append(f"{c.where()}: '{first_line(c.text)}' builds, installs or changes the repository: "
                                f"mark it '{MARKER} <why>'")
                continue
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S+", c.text.strip()):
                assignments.append(c.text.strip())
                continue
            script = "".join(a + "\n" for a in assignments) + c.text + "\n"
            t0 = time.monotonic()
            p = subprocess.Popen(["bash", "-c", script], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, start_new_session=True)  # its own process group, to stop it whole
            try:
                out, err = p.communicate(timeout=COMMAND_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate()
                failures.append(f"{c.where()}: '{c.text}' ran over {COMMAND_TIMEOUT_S} s (mark it '{MARKER} <why>')")
                continue
            r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
            ran += 1
            took = time.monotonic() - t0
            expected = list(c.expected or [])
            status = 0
            while expected and not expected[-1].strip():
                expected.pop()
            if expected and re.fullmatch(r"exit status \d+", expected[-1].strip()):
                status = int(expected.pop().split()[-1])
            if r.returncode != status:
                failures.append(f"{c.where()}: '{c.text}' exited {r.returncode}, the page says {status}:\n"
                                + indent(r.stderr or r.stdout))
                continue
            if not expected:
                print(f"  ok {took:5.1f} s  {c.where()}: {first_line(c.text)}")
                continue
            printed = r.stdout if status == 0 else r.stderr
            if to_file := REDIRECT.search(c.text):  # "cmd > FILE": the page shows the file
                try:
                    printed = open(os.path.join(tmp, to_file.group(1)), encoding="utf-8").read()
                except OSError as e:
                    failures.append(f"{c.where()}: '{c.text}' wrote no {to_file.group(1)}: {e}")
                    continue
            actual = normalise(printed.split("\n"))
            want = normalise(expected)
            if not matches(want, actual, c.excerpt):
                c.actual = printed.rstrip("\n").split("\n")
                failures.append(f"{c.where()}: '{c.text}' prints something else than the page shows\n"
                                + diff(want, actual))
                continue
            print(f"  ok {took:5.1f} s  {c.where()}: {first_line(c.text)} (output matches)")
    return failures, ran, skipped


def rewrite(path, cmds):
    """Replaces the page's output of each fenced command that printed something else (--update)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    for c in sorted((c for c in cmds if c.actual is not None and c.out_line is not None), key=lambda c: -c.out_line):
        if any(l.strip() == "..." or l.strip().startswith("exit status") for l in c.expected):
            print(f"  not updated (it has '...' or 'exit status'): {c.where()}")
            continue
        start = c.out_line - 1
        lines[start:start + len(c.expected)] = c.actual
        print(f"  updated {c.where()}")
    open(path, "w", encoding="utf-8").write("\n".join(lines))


def first_line(text):
    return text.split("\n")[0][:100]


def indent(text, n=40):
    lines = text.rstrip().split("\n")
    return "\n".join("    " + l for l in lines[-n:])


def diff(want, actual):
    import difflib
    d = list(difflib.unified_diff(want, actual, "page (normalised)", "command (normalised)", lineterm="", n=1))
    return indent("\n".join(d), 60)


def main(argv):
    if len(argv) < 4:
        print(__doc__)
        return 2
    repo, build = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    listing, update = argv[3] == "--list", argv[3] == "--update"
    pages = [os.path.join("docs", p) for p in sorted(os.listdir(os.path.join(repo, "docs"))) if p.endswith(".md")]
    pages = ["README.md"] + pages if listing else argv[4:] if update else argv[3:]
    failures, total_ran, total_skipped = [], 0, 0
    for page in pages:
        text = open(os.path.join(repo, page), encoding="utf-8").read()
        cmds, problems = commands(page, text)
        failures += problems
        if listing:
            for c in cmds:
                print(f"{c.where()}: {'skipped (' + c.skip + ')' if c.skip is not None else 'run'}: "
                      f"{first_line(c.text)}")
            continue
        print(f"{page}: {len(cmds)} command(s)")
        f, ran, skipped = run_page(repo, build, page, cmds)
        failures += f
        if update:
            rewrite(os.path.join(repo, page), cmds)
        total_ran += ran
        total_skipped += skipped
    for f in failures:
        print("FAIL:", f)
    if failures:
        print(f"{len(failures)} problem(s). Rerun the command and update the page, or mark a command that cannot "
              f"run here with '{MARKER} <why>' (tests/docs/check_docs.py).")
        return 1
    if not listing:
        print(f"ok: {total_ran} command(s) ran and matched, {total_skipped} marked as not run")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
