"""In-process counters and timings, exposed on /metrics and in the readiness payload."""

from __future__ import annotations

import threading
from collections import defaultdict


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, int] = defaultdict(int)
        self._timings: dict[str, list[float]] = defaultdict(list)

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counters[name] += n

    def observe(self, name: str, seconds: float) -> None:
        with self._lock:
            samples = self._timings[name]
            samples.append(seconds)
            if len(samples) > 500:
                del samples[: len(samples) - 500]

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            timings = {
                name: {"count": len(v), "avg_s": round(sum(v) / len(v), 3) if v else 0.0}
                for name, v in self._timings.items()
            }
            return {"counters": dict(self._counters), "timings": timings}
