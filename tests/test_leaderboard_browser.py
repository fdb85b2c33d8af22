"""The HTML leaderboard in a real headless browser: it renders, logs no console error, and every image loads.

Needs Chromium (Debian's ``chromium``; ``.ci/run`` installs it where it can) and the ``playwright`` package, which
drives that Chromium (its own browser download is never used). Without either, the test skips and says why.
"""
import functools
import http.server
import shutil
import threading

import pytest

from benchmark.cli import main as bench_main
from benchmark.leaderboard import build_leaderboards

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags of a closed network: no background connections, which this machine would refuse many at a time.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A leaderboard of a small run (plots on), served over HTTP on localhost; yields the base URL and the page names."""
    monkeypatch.setenv("PRUNE_BENCH_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    with pytest.raises(SystemExit) as done:
        bench_main(["run", "--instances", "tiny", "--solvers", "magnitude,wanda,sparseswaps,brute-force",
                    "--pattern", "per-row,2:4", "--results", str(results), "--quiet"])
    assert done.value.code == 0
    pages = [p.with_suffix(".html") for p in build_leaderboards(results, plots=True)]
    handler = functools.partial(_QuietHandler, directory=str(pages[0].parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", [p.name for p in pages]
    server.shutdown()


def test_leaderboard_html_renders_without_console_errors_and_images_load(served):
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    base, pages = served
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            for name in pages:
                page = browser.new_page()
                problems = []
                page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
                page.on("requestfailed", lambda req: problems.append(f"failed request: {req.url}"))
                response = page.goto(f"{base}/{name}", wait_until="load")
                assert response is not None and response.ok, f"{name}: HTTP {response and response.status}"
                images = page.eval_on_selector_all("img", "els => els.map(e => [e.alt, e.complete, e.naturalWidth])")
                tables = page.eval_on_selector_all("table", "els => els.map(e => e.rows.length)")
                assert images and all(complete and width > 0 for _, complete, width in images), (name, images)
                assert tables and all(rows > 1 for rows in tables), (name, tables)
                assert page.title() and not problems, (name, problems)
                page.close()
        finally:
            browser.close()
