"""Drive a real JupyterLab in headless Chromium from pytest (helper module, not collected).

    with lab_server([nb_path]) as lab, browser_page() as page:
        open_notebook(page, lab.url("demo.ipynb"))
        run_all(page)
        wait_for_text(page, "done", within=".jp-OutputArea-output")
        assert not page.page_errors

Facts behind the choices are in ../shared/notes/browser-testing.md. Chromium is Debian's
/usr/bin/chromium (`make test` installs it); `playwright install` is never used. Without
Chromium a test is skipped locally, but fails when the CI environment variable is set.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
# The notes' flags; the resolver rule fails every host but the local server at once, so an
# accidental internet fetch shows up as a console error instead of a slow timeout.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
# Written into the server's private dirs: the news/update toast covers the page unless switched
# off in user settings; the page config skips Lab's build check (seconds of CPU at page load).
_FILES = {"settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings":
          {"fetchNews": "false", "checkForUpdates": False},
          "config/labconfig/page_config.json": {"buildCheck": False, "buildAvailable": False}}


def require_browser() -> None:
    """Skip the calling test if Chromium or playwright is missing, or fail if $CI is set."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install -y chromium, or `make test` as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Python playwright (pip install -e '.[dev]')")
    if missing:
        msg = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI is set, so this is an error, not a skip", pytrace=False)
        pytest.skip(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A running `jupyter lab`: `.root` holds the notebooks, `.base` is http://127.0.0.1:PORT."""

    def __init__(self, root: Path, base: str, token: str, log: Path):
        self.root, self.base, self.token, self.log = root, base, token, log
        self.startup_s = 0.0

    def url(self, notebook: str) -> str:
        """Lab URL that opens `notebook` (a name relative to `.root`) and logs in with the token."""
        return f"{self.base}/lab/tree/{notebook}?token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 5.0) -> dict:
        """Call the server's REST API (e.g. "/api/kernels") with the token; return its JSON."""
        req = urllib.request.Request(self.base + path, method=method,
                                     data=None if method == "GET" else b"",
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else {}

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


@contextmanager
def lab_server(notebook_paths, timeout: float = 60.0, settings=None):
    """Start JupyterLab on a temporary copy of `notebook_paths`; yield a LabServer.
    `settings`: more user settings, {"@jupyterlab/<plugin>/<name>": {...}} (e.g. the theme).

    Settings, workspaces, config and runtime dirs are private to the temporary dir. On exit
    the server is shut down through its API (which stops its kernels), then terminated or
    killed if need be, and any process it left behind is killed.
    """
    import psutil  # ipykernel's dependency

    with tempfile.TemporaryDirectory(prefix="kansci-lab-") as tmp:
        tmp = Path(tmp)
        root = tmp / "notebooks"
        root.mkdir()
        for p in notebook_paths:
            shutil.copy(p, root / Path(p).name)
        extra = {f"settings/{k}.jupyterlab-settings": v for k, v in (settings or {}).items()}
        for name, value in {**_FILES, **extra}.items():
            f = tmp / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(value))
        port, token = _free_port(), secrets.token_hex(16)
        bindir = Path(sys.executable).parent
        cmd = [str(bindir / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={tmp / 'settings'}",
               f"--LabApp.workspaces_dir={tmp / 'workspaces'}", "--LabApp.extension_manager=readonly"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
                   JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                   IPYTHONDIR=str(tmp / "ipython"), JUPYTER_PLATFORM_DIRS="1")
        log = tmp / "server.log"
        server = LabServer(root, f"http://127.0.0.1:{port}", token, log)
        t0 = time.monotonic()
        with open(log, "wb") as logf:
            proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                    stdout=logf, stderr=subprocess.STDOUT)
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited ({proc.returncode}):\n{server.log_tail()}")
                try:
                    server.api("/api/status", timeout=2)
                    break
                except OSError:
                    if time.monotonic() - t0 > timeout:
                        raise RuntimeError(
                            f"jupyter lab not up after {timeout:.0f} s:\n{server.log_tail()}")
                    time.sleep(0.2)
            server.startup_s = time.monotonic() - t0
            yield server
        finally:
            _stop(proc, server, psutil)


def _stop(proc, server: LabServer, psutil) -> None:
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    if proc.poll() is None:
        try:
            server.api("/api/shutdown", method="POST")
        except OSError:
            pass
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    _, alive = psutil.wait_procs(children, timeout=5)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass


@contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """Yield a playwright Page in headless Chromium with a fresh profile.

    The page gets two lists for assertions: `page.page_errors` (uncaught exceptions) and
    `page.console_errors` (console messages of type error).
    """
    require_browser()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="kansci-chromium-") as profile, sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(30_000)
            page.page_errors, page.console_errors = [], []
            page.on("pageerror", lambda e: page.page_errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
            yield page
        finally:
            ctx.close()


def wait_for_idle(page, timeout: float = 60_000) -> None:
    """Wait until the status bar shows the kernel idle ("Python 3 (ipykernel) | Idle")."""
    idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\|\s*Idle$"))
    idle.first.wait_for(timeout=timeout)


def write_notebook(path, *sources: str) -> Path:
    """A notebook at ``path`` with one code cell per source, for the python3 kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nbformat.write(nb, path)
    return Path(path)


def open_notebook(page, url: str, timeout: float = 60_000) -> None:
    """Open a notebook URL (LabServer.url) and wait for its cells and an idle kernel."""
    page.goto(url)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=timeout)
    wait_for_idle(page, timeout)


_ALL_RAN_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')]
  .filter(c => c.querySelector('.jp-InputArea-editor')?.textContent.trim())
  .every(c => /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt')?.textContent ?? ''))"""


def wait_for_cells(page, timeout: float = 120_000) -> None:
    """Wait until every non-empty code cell has an execution count and the kernel is idle."""
    page.wait_for_function(_ALL_RAN_JS, timeout=timeout)
    wait_for_idle(page, timeout)


_NUMBERED_JS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt')]
  .some(p => /\\[[\\d*]+\\]/.test(p.textContent))"""


def menu(page, menu_name: str, item: str) -> None:
    """Click menu bar `menu_name`, then the item whose label starts with `item`."""
    page.locator(".lm-MenuBar-item", has_text=re.compile(f"^{re.escape(menu_name)}$")).click()
    page.get_by_role("menuitem", name=re.compile("^" + re.escape(item))).click()


def run_all(page, wait: bool = True, timeout: float = 120_000) -> None:
    """Run > Run All Cells from the menu bar; by default wait until all cells have run.

    Saved execution counts are cleared first (Edit > Clear Outputs of All Cells), so that the
    wait cannot mistake an old "[1]:" for a finished run.
    """
    if page.evaluate(_NUMBERED_JS):
        menu(page, "Edit", "Clear Outputs of All Cells")
        page.wait_for_function(f"() => !({_NUMBERED_JS})()")
    menu(page, "Run", "Run All Cells")
    if wait:
        wait_for_cells(page, timeout)


def run_new_cell(page, code: str, timeout: float = 60_000) -> str:
    """Type `code` into a new code cell at the end, Shift+Enter; return its output text.

    A trailing empty cell (left by an earlier Shift+Enter) is reused; else one is inserted.
    """
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
    n = cells.count()
    last = cells.nth(n - 1)
    last.locator(".jp-InputPrompt").click()  # select it, command mode
    page.keyboard.press("Escape")
    code_cell = "jp-CodeCell" in last.get_attribute("class")
    if code_cell and not last.locator(".cm-content").inner_text().strip():
        cell = last
    else:
        page.keyboard.press("b")  # insert below, still command mode
        cell = cells.nth(n)
        cell.wait_for()
    page.keyboard.press("Enter")  # edit mode
    cell.locator(".cm-editor.cm-focused").wait_for()
    page.keyboard.insert_text(code)  # no key events: no auto-closed brackets or auto-indent
    page.keyboard.press("Shift+Enter")
    cell.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).wait_for(timeout=timeout)
    wait_for_idle(page, timeout)
    return cell.locator(".jp-OutputArea").inner_text()


def wait_for_text(page, text: str, timeout: float = 30_000, within: str | None = None,
                  exact: bool = False):
    """Wait until `text` is visible (inside CSS selector `within` if given); return the locator."""
    scope = page.locator(within) if within else page
    loc = scope.get_by_text(text, exact=exact).first
    loc.wait_for(state="visible", timeout=timeout)
    return loc


def cell_outputs_text(page) -> list[str]:
    """The output text of each code cell of the visible notebook, in order ('' if none)."""
    return page.eval_on_selector_all(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell",
        "cs => cs.map(c => c.querySelector('.jp-OutputArea')?.innerText ?? '')")


def screenshot(page, name: str) -> Path:
    """Save a PNG of the page as tests/artifacts/<name>.png (git-ignored); return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / (name if name.endswith(".png") else name + ".png")
    page.screenshot(path=str(path))
    return path
