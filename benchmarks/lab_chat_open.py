"""A 500-message chat opens and scrolls without jank.

A chat of 250 question/answer pairs (markdown, lists, code blocks) is stored through the API;
the sidebar opens it from the chat list. Reported:
- first paint: click on the chat to the first animation frame with the messages in the DOM;
- visible rendered: click until the messages in view are rendered through rendermime;
- scroll: the message list is scrolled top to bottom and back in 120 animation-frame steps;
  frame intervals (p50 / p95 / max) and frames over 50 ms ("janky") are reported, plus long
  tasks (PerformanceObserver) during the scroll.
Usage: python benchmarks/lab_chat_open.py [messages] [runs]
"""

from __future__ import annotations

import statistics
import sys
import time

from lab_common import LabProcess, launch_browser, open_lab, percentile, write_result
from playwright.sync_api import sync_playwright

MESSAGES = int(sys.argv[1]) if len(sys.argv) > 1 else 500
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3

ANSWER = """Here is how to do it (step {i}):

1. Load the data with `pandas.read_csv`.
2. Group by **region** and sum the *sales*.

```python
import pandas as pd
df = pd.read_csv("sales_{i}.csv")
print(df.groupby("region")["sales"].sum())
```

| region | sales |
|---|---|
| north | {i} |
| south | {j} |
"""


def make_history(n: int) -> dict:
    messages: dict[str, dict] = {}
    parent = None
    now = int(time.time()) - n
    for k in range(n):
        mid = f"m{k}"
        role = "user" if k % 2 == 0 else "assistant"
        content = (
            f"Question {k // 2}: how do I sum sales by region?"
            if role == "user"
            else ANSWER.format(i=k, j=2 * k)
        )
        messages[mid] = {
            "id": mid,
            "parentId": parent,
            "childrenIds": [],
            "role": role,
            "content": content,
            "timestamp": now + k,
            "done": True,
            **({"model": "smollm2"} if role == "assistant" else {}),
        }
        if parent:
            messages[parent]["childrenIds"].append(mid)
        parent = mid
    return {"messages": messages, "currentId": parent}


OPEN_AND_MEASURE = """
async (chatId) => {
  const item = document.querySelector(`#oui-jupyter-sidebar .jp-OuiChatList-item[data-chat-id="${chatId}"] .jp-OuiChatList-open`);
  const before = (window.ouiJupyterStats || {markdownRenders: 0}).markdownRenders;
  const t0 = performance.now();
  item.click();
  const frame = () => new Promise(r => requestAnimationFrame(() => r(performance.now())));
  let firstPaint = null;
  for (;;) {
    const t = await frame();
    const n = document.querySelectorAll('#oui-jupyter-sidebar .jp-OuiMessage').length;
    if (n >= %(n)d) { firstPaint = t - t0; break; }
    if (t - t0 > 60000) return {error: 'timeout', n};
  }
  // The visible messages: rendered through rendermime (no plain placeholder left in view).
  let visibleRendered = null;
  for (;;) {
    const t = await frame();
    const list = document.querySelector('#oui-jupyter-sidebar .jp-OuiChatView-messages');
    const box = list.getBoundingClientRect();
    const inView = [...list.querySelectorAll('.jp-OuiMessage')].filter(m => {
      const r = m.getBoundingClientRect(); return r.bottom > box.top && r.top < box.bottom; });
    if (inView.length && inView.every(m => m.querySelector('.jp-OuiMessage-plain').hidden)) { visibleRendered = t - t0; break; }
    if (t - t0 > 60000) return {error: 'render timeout'};
  }
  const rendersAtOpen = window.ouiJupyterStats.markdownRenders - before;
  // Scroll top and back down in 120 frame steps, measuring frame intervals and long tasks.
  const longTasks = [];
  const obs = new PerformanceObserver(l => l.getEntries().forEach(e => longTasks.push(e.duration)));
  try { obs.observe({entryTypes: ['longtask']}); } catch (e) {}
  const list = document.querySelector('#oui-jupyter-sidebar .jp-OuiChatView-messages');
  const max = list.scrollHeight - list.clientHeight;
  const intervals = [];
  let last = await frame();
  for (let s = 0; s <= 120; s++) {
    const f = s <= 60 ? 1 - s / 60 : (s - 60) / 60;
    list.scrollTop = Math.round(max * f);
    const t = await frame();
    intervals.push(t - last); last = t;
  }
  await new Promise(r => setTimeout(r, 200));
  obs.disconnect();
  return {firstPaint, visibleRendered, rendersAtOpen, intervals, longTasks,
          rendersAfterScroll: window.ouiJupyterStats.markdownRenders - before, scrollHeight: list.scrollHeight};
}
"""


def main() -> None:
    results = []
    with LabProcess(extension=True) as lab, sync_playwright() as p:
        browser = launch_browser(p)
        history = make_history(MESSAGES)
        chat_ids = []
        for r in range(RUNS):
            chat = lab.api(
                "POST",
                "oui/api/v1/chats/new",
                {
                    "chat": {
                        "title": f"Long chat {r}",
                        "models": ["smollm2"],
                        "history": history,
                        "messages": list(history["messages"].values()),
                    }
                },
            )
            chat_ids.append(chat["id"])
        for chat_id in chat_ids:
            page, _ = open_lab(browser, lab)
            page.evaluate("() => window.jupyterapp.commands.execute('oui-jupyter:open')")
            page.wait_for_selector(
                f"#oui-jupyter-sidebar .jp-OuiChatList-item[data-chat-id='{chat_id}']"
            )
            result = page.evaluate(OPEN_AND_MEASURE.replace("%(n)d", str(MESSAGES)), chat_id)
            if "error" in result:
                raise RuntimeError(result)
            results.append(result)
            page.context.close()
        browser.close()
    intervals = [i for r in results for i in r["intervals"][1:]]
    write_result(
        "lab_chat_open",
        {
            "messages": MESSAGES,
            "runs": RUNS,
            "first_paint_ms_median": round(statistics.median(r["firstPaint"] for r in results)),
            "visible_rendered_ms_median": round(
                statistics.median(r["visibleRendered"] for r in results)
            ),
            "markdown_renders_at_open": results[-1]["rendersAtOpen"],
            "markdown_renders_after_full_scroll": results[-1]["rendersAfterScroll"],
            "scroll_frame_ms_p50": round(percentile(intervals, 0.5), 1),
            "scroll_frame_ms_p95": round(percentile(intervals, 0.95), 1),
            "scroll_frame_ms_max": round(max(intervals), 1),
            "scroll_frames_over_50ms": sum(1 for i in intervals if i > 50),
            "scroll_frames": len(intervals),
            "long_tasks_during_scroll": [round(t) for r in results for t in r["longTasks"]],
            "first_paint_samples_ms": [round(r["firstPaint"]) for r in results],
        },
    )


if __name__ == "__main__":
    main()
