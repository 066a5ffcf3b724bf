"""Extra JupyterLab load time with oui-jupyter enabled vs disabled.

Time = navigation start to `jupyterapp.restored` (the shell is ready), in Chromium, with a
fresh browser context (no HTTP cache) per load. Lab servers with and without the extension
alternate; each serves a warm-up load first (not counted). Usage: python benchmarks/lab_load.py [N]
"""

from __future__ import annotations

import statistics
import sys

from lab_common import LabProcess, launch_browser, open_lab, write_result
from playwright.sync_api import sync_playwright

N = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def main() -> None:
    times: dict[bool, list[float]] = {True: [], False: []}
    with sync_playwright() as p:
        browser = launch_browser(p)
        labs = {flag: LabProcess(extension=flag) for flag in (False, True)}
        try:
            for lab in labs.values():
                page, _ = open_lab(browser, lab)
                page.context.close()
            for _ in range(N):
                for flag, lab in labs.items():
                    page, ready = open_lab(browser, lab)
                    if flag:
                        # The sidebar really is there.
                        page.wait_for_selector("[data-id='oui-jupyter-sidebar']", state="attached")
                    times[flag].append(ready)
                    page.context.close()
        finally:
            for lab in labs.values():
                lab.close()
            browser.close()
    without, with_ = statistics.median(times[False]), statistics.median(times[True])
    write_result(
        "lab_load",
        {
            "runs": N,
            "shell_ready_ms_median_without": round(without),
            "shell_ready_ms_median_with": round(with_),
            "extra_ms_median": round(with_ - without),
            "extra_pct": round(100 * (with_ - without) / without, 1),
            "samples_without_ms": [round(t) for t in times[False]],
            "samples_with_ms": [round(t) for t in times[True]],
        },
    )


if __name__ == "__main__":
    main()
