"""Streaming 2,000 tokens does not re-render the whole chat per token.

The sidebar runs in a real Lab; its `oui/api` and events socket are answered by the scripted
backend of the browser tests (tests/browser/fake_backend.py), so exactly N tokens arrive, one
WebSocket frame each, at a fixed rate. Reported: frames painted while streaming, markdown
renders of the streaming message (batched to at most one per animation frame) and of the other
messages (only the new question's first render; the messages already shown: 0), frame
intervals and long tasks.
Usage: python benchmarks/lab_stream.py [tokens] [tokens_per_second]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from lab_common import LabProcess, launch_browser, open_lab, percentile, write_result
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from browser.fake_backend import FakeBackend

TOKENS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
RATE = float(sys.argv[2]) if len(sys.argv) > 2 else 200.0

START_PROBE = """() => {
  window.__frames = []; window.__longTasks = [];
  const tick = t => { window.__frames.push(t); if (!window.__stopFrames) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  const obs = new PerformanceObserver(l => l.getEntries().forEach(e => window.__longTasks.push(e.duration)));
  try { obs.observe({entryTypes: ['longtask']}); } catch (e) {}
  window.__statsBefore = JSON.parse(JSON.stringify(window.ouiJupyterStats));
}"""


def main() -> None:
    fake = FakeBackend()
    with LabProcess(extension=True) as lab, sync_playwright() as p:
        browser = launch_browser(p)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        fake.install(context)
        page, _ = open_lab(browser, lab, context=context)
        page.evaluate("() => window.jupyterapp.commands.execute('oui-jupyter:open')")
        sidebar = page.locator("#oui-jupyter-sidebar")
        sidebar.get_by_role("button", name="New chat").click()
        box = sidebar.get_by_role("textbox", name="Message")
        # A few earlier turns, so a whole-chat re-render would show.
        for k in range(5):
            box.fill(f"Question {k}")
            box.press("Enter")
            turn = fake.wait_turn(page, k + 1)
            fake.stream(
                turn,
                [f"Answer {k} with `code` and **bold**.\n\n```python\nx = {k}\n```\n"],
                page,
                delay_ms=0,
            )
            page.wait_for_function(
                "() => !document.querySelector('.jp-OuiMessage.jp-mod-streaming')"
            )
        page.wait_for_timeout(500)
        box.fill("Now a long answer")
        box.press("Enter")
        turn = fake.wait_turn(page, 6)
        page.evaluate(START_PROBE)
        t0 = time.monotonic()
        message = fake.chats[turn.chat_id]["chat"]["history"]["messages"][turn.message_id]
        per_tick = max(1, int(RATE / 50))
        sent = 0
        words = ["alpha ", "beta ", "gamma ", "delta\n\n", "`x` ", "**y** "]
        while sent < TOKENS:
            for _ in range(min(per_tick, TOKENS - sent)):
                token = words[sent % len(words)]
                offset = len(message["content"])
                message["content"] += token
                fake.emit(
                    {
                        "type": "chat:completion",
                        "chat_id": turn.chat_id,
                        "message_id": turn.message_id,
                        "data": {"delta": token, "offset": offset},
                    }
                )
                sent += 1
            target = t0 + sent / RATE
            page.wait_for_timeout(max(1, int((target - time.monotonic()) * 1000)))
        fake.finish(turn)
        page.wait_for_function(
            "() => !document.querySelector('.jp-OuiMessage.jp-mod-streaming')", timeout=60_000
        )
        page.wait_for_timeout(300)
        stream_s = time.monotonic() - t0
        data = page.evaluate(
            """(id) => {
          window.__stopFrames = true;
          const before = window.__statsBefore, after = window.ouiJupyterStats;
          const others = Object.keys(after.byMessage).filter(k => k !== id)
            .reduce((n, k) => n + (after.byMessage[k] - (before.byMessage[k] || 0)), 0);
          const earlier = Object.keys(before.byMessage)
            .reduce((n, k) => n + ((after.byMessage[k] || 0) - before.byMessage[k]), 0);
          const f = window.__frames; const iv = f.slice(1).map((t, i) => t - f[i]);
          const shown = document.querySelector(`.jp-OuiMessage[data-message-id="${id}"] .jp-OuiMessage-markdown`).innerText;
          return {streamRenders: (after.byMessage[id] || 0) - (before.byMessage[id] || 0), otherRenders: others,
                  earlierRenders: earlier,
                  frames: f.length, intervals: iv, longTasks: window.__longTasks, shownChars: shown.length,
                  messages: document.querySelectorAll('.jp-OuiMessage').length};
        }""",
            turn.message_id,
        )
        context.close()
        browser.close()
    iv = data["intervals"]
    write_result(
        "lab_stream",
        {
            "tokens": TOKENS,
            "ws_frames": TOKENS + 1,
            "rate_tokens_per_s": RATE,
            "stream_seconds": round(stream_s, 2),
            "messages_in_chat": data["messages"],
            "markdown_renders_streaming_message": data["streamRenders"],
            "markdown_renders_other_messages": data["otherRenders"],
            "markdown_renders_of_messages_already_shown": data["earlierRenders"],
            "renders_per_token": round(data["streamRenders"] / TOKENS, 3),
            "animation_frames": data["frames"],
            "frame_ms_p50": round(percentile(iv, 0.5), 1),
            "frame_ms_p95": round(percentile(iv, 0.95), 1),
            "frame_ms_max": round(max(iv), 1) if iv else None,
            "frames_over_50ms": sum(1 for i in iv if i > 50),
            "long_tasks_ms": [round(t) for t in data["longTasks"]],
            "final_text_chars": data["shownChars"],
        },
    )


if __name__ == "__main__":
    main()
