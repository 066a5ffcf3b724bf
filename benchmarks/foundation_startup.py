"""Start-up time and idle memory the extension adds to `jupyter server`.

Alternates servers with and without oui_jupyter; start-up = spawn to first HTTP answer
(median of N); idle memory = RSS after the services are built (the database is open and
migrated; ``oui/api/version`` answered), before any use of oui. Then, for the record, the RSS
after first use (``v1/chats/`` listed: the workspace index of the server's root opens; the
root holds one small file, so the embedding model loads too).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

import psutil
from _server import JupyterServer

N = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def main() -> None:
    times: dict[bool, list[float]] = {True: [], False: []}
    rss: dict[bool, list[float]] = {True: [], False: []}
    used: list[float] = []
    # A user's data dir outlives a server: the first start migrates the database (not counted).
    data_dir = tempfile.mkdtemp()
    for with_oui in (False, True):  # warm the disk cache and the database once
        server = JupyterServer(with_oui, data_dir=data_dir)
        server.start()
        if with_oui:
            server.get("/oui/api/version")
        server.stop()
    for _ in range(N):
        for with_oui in (False, True):
            server = JupyterServer(with_oui, data_dir=data_dir)
            try:
                times[with_oui].append(server.start())
                if with_oui:
                    server.get("/oui/api/version")  # waits for the services to be built
                time.sleep(2.0)
                rss[with_oui].append(psutil.Process(server.proc.pid).memory_info().rss / 2**20)
                if with_oui:
                    server.get("/oui/api/v1/chats/")
                    time.sleep(8.0)  # the index opens (2 s), reads the root, loads the model
                    used.append(psutil.Process(server.proc.pid).memory_info().rss / 2**20)
            finally:
                server.stop()
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(
        f"start-up to first HTTP answer, median of {N}: without {off * 1000:.0f} ms, with {on * 1000:.0f} ms, added {1000 * (on - off):+.0f} ms"
    )
    m_off, m_on = statistics.median(rss[False]), statistics.median(rss[True])
    print(
        f"idle RSS after warm-up, median: without {m_off:.1f} MiB, with {m_on:.1f} MiB, added {m_on - m_off:+.1f} MiB"
    )
    print(
        f"RSS after first use (index open, embedding model loaded), median: {statistics.median(used):.1f} MiB"
    )


if __name__ == "__main__":
    main()
