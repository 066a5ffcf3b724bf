"""Start-up time and idle memory the extension adds to `jupyter server`.

Alternates servers with and without oui_jupyter; start-up = spawn to first HTTP answer
(median of N); idle memory = RSS after the database is open and one oui request was served.
"""
from __future__ import annotations

import statistics
import sys
import time

import psutil

from _server import JupyterServer

N = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def main() -> None:
    times: dict[bool, list[float]] = {True: [], False: []}
    rss: dict[bool, list[float]] = {True: [], False: []}
    JupyterServer(False).start()  # warm the disk cache once (not counted)
    for _ in range(N):
        for with_oui in (False, True):
            server = JupyterServer(with_oui)
            try:
                times[with_oui].append(server.start())
                if with_oui:
                    server.get("/oui/api/version")  # waits for the services to be built
                time.sleep(2.0)
                rss[with_oui].append(psutil.Process(server.proc.pid).memory_info().rss / 2**20)
            finally:
                server.stop()
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"start-up to first HTTP answer, median of {N}: without {off*1000:.0f} ms, with {on*1000:.0f} ms, added {1000*(on-off):+.0f} ms")
    m_off, m_on = statistics.median(rss[False]), statistics.median(rss[True])
    print(f"idle RSS after warm-up, median: without {m_off:.1f} MiB, with {m_on:.1f} MiB, added {m_on-m_off:+.1f} MiB")


if __name__ == "__main__":
    main()
