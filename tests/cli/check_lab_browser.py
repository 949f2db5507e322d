#!/usr/bin/env python3
"""Renders the lab's HTML and SVG output in a real headless Chromium.

Checks that the page's script built what it should (read back with --dump-dom:
the selectors' options, the cells and arrows of the chosen sentence and head,
including one chosen through the URL) and that screenshots of the page and of
each SVG are not blank (many distinct colours, a fair share of non-white pixels).
Exit 77 (ctest: skipped) when no chromium is installed.
Usage: check_lab_browser.py ATTNLAB_BINARY
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(binary, url, *extra):
    with tempfile.TemporaryDirectory() as profile:
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", *extra, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def png_stats(path):
    from PIL import Image  # Debian python3-pil (tools/install-deps.sh)
    img = Image.open(path).convert("RGB")
    pixels = list(img.getdata())
    distinct = len(set(pixels))
    ink = sum(1 for p in pixels if min(p) < 235) / len(pixels)
    return img.size, distinct, ink


def main():
    attnlab = os.path.abspath(sys.argv[1])
    browser = chromium_binary()
    if not browser:
        print("SKIP: chromium is not installed (tools/install-deps.sh installs the Debian package 'chromium')")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pics")
        r = subprocess.run([attnlab, "lab", "I love AI", "AI loves me", "I love AI deeply", "--heads", "2",
                            "--causal", "--out", out], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"attnlab lab exits 0: {r.stderr}")
        page = "file://" + os.path.join(out, "lab.html")

        r = chromium(browser, page, "--dump-dom")
        dom = r.stdout
        check('data-ready="1"' in dom, f"the page's script ran to the end (rc {r.returncode}, {r.stderr[-300:]})")
        check(len(re.findall(r'<option value="\d+">\d+: ', dom)) == 3, "three sentence options built by the script")
        check(len(re.findall(r'<option value="\d+">head \d+</option>', dom)) == 2, "two head options")
        check(len(re.findall(r'<rect class="cell( masked)?"', dom)) == 9, "3 x 3 cells of sentence 1 in the DOM")
        check(len(re.findall(r'<rect class="cell masked"', dom)) == 3, "3 masked (causal) cells")
        check(len(re.findall(r'<path class="arrow( self)?"', dom)) == 6, "6 arrows for 3 causal words")
        check('data-shown="1-1"' in dom, "opens on sentence 1, head 1")
        check("Sentence 1 of 3, head 1 of 2: 3 words, 9 cells, 6 arrows." in dom, "status line written by the script")

        r = chromium(browser, page + "#s=3&h=2", "--dump-dom")
        dom = r.stdout
        check('data-shown="3-2"' in dom, "the URL selects sentence 3, head 2")
        check(len(re.findall(r'<rect class="cell( masked)?"', dom)) == 16, "4 x 4 cells of sentence 3")
        check("deeply" in dom, "the words of sentence 3 are shown")

        # Hovering a word highlights its row and arrows and dims the rest; "&w=2" does the same on load.
        r = chromium(browser, page + "#s=1&h=1&w=2", "--dump-dom")
        dom = r.stdout
        hl = re.findall(r'<(rect|path|text) class="([^"]*)" data-q="(\d+)"', dom)
        lit = [(tag, q) for tag, cls, q in hl if "hl" in cls.split()]
        dim = [(tag, q) for tag, cls, q in hl if "dim" in cls.split()]
        check(lit and all(q == "1" for _, q in lit), f"only word 2's elements are highlighted: {lit[:6]}")
        check(sum(1 for tag, _ in lit if tag == "rect") == 3, "word 2's whole row of 3 cells")
        check(dim and all(q != "1" for _, q in dim), "the other rows and arrows are dimmed")
        check(any(tag == "path" for tag, _ in lit), "word 2's arrows are highlighted")

        for name, url, size in [("page", page, "1200,800"),
                                ("heatmap", "file://" + os.path.join(out, "s1-i-love-ai-h1-heatmap.svg"), "500,420"),
                                ("arrows", "file://" + os.path.join(out, "s3-i-love-ai-deeply-h1-arrows.svg"), "700,520")]:
            shot = os.path.join(tmp, name + ".png")
            r = chromium(browser, url, f"--screenshot={shot}", f"--window-size={size}")
            check(os.path.exists(shot), f"{name}: screenshot written ({r.stderr[-300:]})")
            if not os.path.exists(shot):
                continue
            (w, h), distinct, ink = png_stats(shot)
            want_w, want_h = map(int, size.split(","))
            check((w, h) == (want_w, want_h), f"{name}: screenshot is {w}x{h}, want {size}")
            check(distinct >= 20, f"{name}: only {distinct} distinct colours: blank or broken rendering")
            check(ink >= 0.02, f"{name}: only {ink:.1%} of pixels are not white")
            print(f"{name}: {w}x{h}, {distinct} distinct colours, {ink:.1%} ink")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("lab in chromium: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
