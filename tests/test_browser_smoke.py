"""Browser smoke test: a real JupyterLab in headless Chromium runs a notebook with an anywidget
and the synced trait goes both ways (browser click -> Python, Python assignment -> browser).
Harness: tests/browser.py. Skipped without Chromium unless $CI is set (then it fails)."""

import time

from browser import (browser_page, lab_server, open_notebook, require_browser, run_all,
                     run_new_cell, screenshot, wait_for_text, write_notebook)

WIDGET = '''\
import anywidget, traitlets

class Smoke(anywidget.AnyWidget):
    _esm = """
    export default {
      render({ model, el }) {
        const button = document.createElement("button");
        button.className = "smoke-button";
        button.textContent = "+1";
        const span = document.createElement("span");
        span.className = "smoke-count";
        const show = () => { span.textContent = `count: ${model.get("count")}`; };
        button.addEventListener("click", () => {
          model.set("count", model.get("count") + 1);
          model.save_changes();
        });
        model.on("change:count", show);
        show();
        el.append(button, span);
      }
    };
    """
    count = traitlets.Int(0).tag(sync=True)

w = Smoke()
w'''


def test_browser_widget_round_trip(tmp_path):
    require_browser()
    write_notebook(tmp_path / "smoke.ipynb", WIDGET)

    t = {}
    t0 = time.monotonic()
    with lab_server([tmp_path / "smoke.ipynb"]) as lab, browser_page() as page:
        t["server start"] = lab.startup_s
        t1 = time.monotonic()
        open_notebook(page, lab.url("smoke.ipynb"))
        t["notebook open"] = time.monotonic() - t1

        t1 = time.monotonic()
        run_all(page)
        count = page.locator(".smoke-count")
        wait_for_text(page, "count: 0", within=".smoke-count", exact=True)
        t["run all + render"] = time.monotonic() - t1

        t1 = time.monotonic()
        for _ in range(2):
            page.locator(".smoke-button").click()
        wait_for_text(page, "count: 2", within=".smoke-count", exact=True)
        out = run_new_cell(page, 'print("py count", w.count)')
        assert out.strip() == "py count 2", out  # browser -> Python
        run_new_cell(page, "w.count = 10")
        wait_for_text(page, "count: 10", within=".smoke-count", exact=True)  # Python -> browser
        assert count.inner_text() == "count: 10"
        t["round trips"] = time.monotonic() - t1
        screenshot(page, "browser_smoke")

        assert not page.page_errors, page.page_errors
        if page.console_errors:
            print("console errors:", *page.console_errors, sep="\n  ")
    t["total"] = time.monotonic() - t0
    print("\nbrowser smoke timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()))
