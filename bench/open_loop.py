"""An open loop: visitors arriving at a fixed rate, however slowly the server answers (bench/supporter_page.py)."""

from __future__ import annotations

import html
import http.client
import re
import threading
import time


def open_loop(
    base: str, page: str, rate: float, seconds: int, threads: int = 64
) -> tuple[float, float, float, float, int]:
    """New visitors arriving at a fixed `rate` a second, each loading the page and clicking its link: the
    latency of each click is measured from when it was due, so a slow server cannot slow the arrivals down
    and hide its queue (no coordinated omission). Python's own client, `threads` connections. Returns the
    completed visits a second, p50, p95 and p99 in milliseconds, and the errors."""
    host, port = base.removeprefix("http://").split(":")
    due = [i / rate for i in range(int(rate * seconds))]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    next_slot = [0]
    t0 = time.perf_counter() + 0.5

    def worker() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                slot = next_slot[0]
                next_slot[0] += 1
            if slot >= len(due):
                return
            wait = t0 + due[slot] - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            try:
                connection.request("GET", page)
                response = connection.getresponse()
                body = response.read().decode()
                cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
                link = re.search(r'href="(/c/[^"]+/send/x/[^"]+)"', body)
                if response.status != 200 or not link:
                    raise RuntimeError(f"page: {response.status}")
                connection.request("GET", html.unescape(link.group(1)), headers={"Cookie": cookie})
                response = connection.getresponse()
                response.read()
                if response.status != 303:
                    raise RuntimeError(f"click: {response.status}")
            except (OSError, RuntimeError, http.client.HTTPException):
                with lock:
                    errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                continue
            with lock:
                latencies.append(time.perf_counter() - (t0 + due[slot]))

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - t0
    latencies.sort()

    def at(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000 if latencies else float("nan")

    return len(latencies) / elapsed, at(0.50), at(0.95), at(0.99), errors[0]
