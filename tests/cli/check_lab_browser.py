#!/usr/bin/env python3
"""Renders the lab's notebook (lab.html) and SVGs in a real headless Chromium.

Checks that every section is there after the page's script ran (read back with
--dump-dom: each step's table for every sentence and head, the worked cells, the
figures, the reflection answers, the predictions, the side-by-side view for the
default pair and for a pair chosen in the URL), that the print layout gives a
multi-page PDF, and that screenshots of the page and of each SVG are not blank
(many distinct colours, a fair share of non-white pixels).
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
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
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
        guess = os.path.join(tmp, "guess.csv")
        with open(guess, "w") as f:
            f.write(",I,love,AI\nI,0.25,0.35,0.40\nlove,0.30,0.30,0.40\nAI,0.20,0.40,0.40\n")
        r = subprocess.run([attnlab, "lab", "I love AI", "AI loves me", "I love AI deeply", "--heads", "2",
                            "--causal", "--predict", guess, "--out", out], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, f"attnlab lab exits 0: {r.stderr}")
        page = "file://" + os.path.join(out, "lab.html")

        r = chromium(browser, page, "--dump-dom")
        dom = r.stdout
        check('data-ready="1"' in dom, f"the page's script ran to the end (rc {r.returncode}, {r.stderr[-300:]})")
        # Every step of every sentence and head is in the notebook as a table.
        for si, n in ((1, 3), (2, 3), (3, 4)):
            for step in ("x", "cos"):
                check(f'id="s{si}-{step}"' in dom, f"sentence {si}: the {step} table")
            for h in (1, 2):
                for step in ("q", "k", "v", "scores", "exp", "weights", "output"):
                    check(f'id="s{si}-h{h}-{step}"' in dom, f"sentence {si} head {h}: the {step} table")
        tables = re.findall(r'<table class="m">', dom)
        check(len(tables) >= 3 * 2 * 7 + 3 * 2, f"{len(tables)} tables in the notebook")
        check(dom.count("Worked cell:") == 6, "one worked cell per sentence and head")
        check(len(re.findall(r'<svg[^>]*class="attn-heatmap"', dom)) >= 6, "a heatmap per sentence and head")
        check(dom.count("Which words focus on each other?") >= 6, "reflection answers per sentence and head")
        check(dom.count("Your predictions") == 1 and "comes later: the causal mask hides it" in dom,
              "predictions with the causal flags")
        # The side-by-side view, filled by the script: sentence 1 and 2, head 1, then any pair from the URL.
        check('data-compare="1,2,1"' in dom, "side by side opens on sentences 1 and 2")
        view = dom[dom.find('id="compare-view"'):]
        check(len(re.findall(r'class="attn-heatmap"', view)) == 2 and len(re.findall(r'class="attn-arrows"', view)) == 2,
              "two heatmaps and two arrows side by side")
        r = chromium(browser, page + "#compare=3,1,2", "--dump-dom")
        dom = r.stdout
        check('data-compare="3,1,2"' in dom, "the URL chooses sentences 3 and 1, head 2")
        view = dom[dom.find('id="compare-view"'):]
        check("Sentence 3, head 2: I love AI deeply" in view and "Sentence 1, head 2: I love AI" in view,
              "the chosen sentences are shown side by side")
        check("What changed: the words \u201cI love AI\u201d and \u201cI love AI deeply\u201d share, head 2" in view,
              "what changed between the chosen pair, for the chosen head")

        # The print layout: one sentence per page at least, and the page is not blank.
        pdf = os.path.join(tmp, "lab.pdf")
        r = chromium(browser, page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
        check(os.path.exists(pdf) and os.path.getsize(pdf) > 20000, f"printed to PDF ({r.stderr[-300:]})")
        if os.path.exists(pdf):
            pages = len(re.findall(rb"/Type\s*/Page[^s]", open(pdf, "rb").read()))
            check(pages >= 5, f"{pages} pages: setup, a page per sentence, predictions, side by side")
            print(f"print: {pages} pages, {os.path.getsize(pdf)} bytes")

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
