"""A small GitHub REST client for the review bot (stdlib HTTP, no extra dependency).

Follows ``Link: rel="next"`` pagination, and backs off on primary and secondary rate limits
(403/429 with Retry-After, or x-ratelimit-remaining: 0 until x-ratelimit-reset).
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from vibe_audit.errors import RunError

_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
MAX_ATTEMPTS = 5
MAX_WAIT_S = 120.0


class GitHubError(RunError):
    pass


class GitHub:
    def __init__(
        self,
        api: str,
        token: str,
        repo: str,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 30.0,
    ) -> None:
        self.api, self.token, self.repo = api.rstrip("/"), token, repo
        self.sleep, self.timeout_s = sleep, timeout_s
        self.calls: list[tuple[str, str]] = []

    def _request(self, method: str, url: str, body: Any = None) -> tuple[Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, MAX_ATTEMPTS + 1):
            request = urllib.request.Request(url, data=data, method=method)
            request.add_header("Accept", "application/vnd.github+json")
            request.add_header("Authorization", f"Bearer {self.token}")
            request.add_header("X-GitHub-Api-Version", "2022-11-28")
            request.add_header("User-Agent", "vibe-audit")
            if data is not None:
                request.add_header("Content-Type", "application/json")
            self.calls.append((method, url))
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    raw = response.read()
                    return (json.loads(raw) if raw else None), headers
            except urllib.error.HTTPError as exc:
                headers = {k.lower(): v for k, v in exc.headers.items()}
                text = exc.read().decode("utf-8", errors="replace")
                wait = _rate_limit_wait(exc.code, headers, text)
                if wait is None or attempt == MAX_ATTEMPTS:
                    raise GitHubError(
                        f"GitHub {method} {url}: HTTP {exc.code}: {text[:200]}"
                    ) from exc
                self.sleep(min(wait, MAX_WAIT_S))
            except (urllib.error.URLError, TimeoutError) as exc:
                if attempt == MAX_ATTEMPTS:
                    raise GitHubError(f"GitHub {method} {url}: {exc}") from exc
                self.sleep(min(2.0**attempt, MAX_WAIT_S))
        raise AssertionError("unreachable")

    def get(self, path: str) -> Any:
        return self._request("GET", f"{self.api}{path}")[0]

    def get_all(self, path: str) -> list[Any]:
        url: str | None = f"{self.api}{path}{'&' if '?' in path else '?'}per_page=100"
        items: list[Any] = []
        while url is not None:
            page, headers = self._request("GET", url)
            items.extend(page or [])
            match = _NEXT.search(headers.get("link", ""))
            url = match.group(1) if match else None
        return items

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", f"{self.api}{path}", body)[0]

    def patch(self, path: str, body: Any) -> Any:
        return self._request("PATCH", f"{self.api}{path}", body)[0]


def _rate_limit_wait(status: int, headers: dict[str, str], text: str) -> float | None:
    if status not in (403, 429):
        return None
    if "retry-after" in headers:
        try:
            return float(headers["retry-after"])
        except ValueError:
            return 60.0
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        return max(1.0, float(headers["x-ratelimit-reset"]) - time.time())
    if status == 429 or "secondary rate limit" in text.lower():
        return 60.0
    return None
