"""A local fake GitHub REST server (a test double) for the review bot's tests.

Keeps pull request 7 of o/r in memory: its head sha, review comments and issue comments.
Lists are paginated (``page_size`` items per page, with Link headers), and the first
write can be refused with a secondary rate limit (403 + Retry-After) to exercise backoff.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PR = 7
REPO = "o/r"


class FakeGitHub(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, head_sha: str, page_size: int = 2, rate_limit_first_write: bool = False):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.head_sha = head_sha
        self.page_size = page_size
        self.rate_limit_pending = rate_limit_first_write
        self.review_comments: list[dict[str, Any]] = []
        self.issue_comments: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str, Any]] = []  # (method, path, body) of accepted writes
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self.next_id = 100
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


class _Handler(BaseHTTPRequestHandler):
    server: FakeGitHub

    def log_message(self, *_args: object) -> None:
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _page(self, items: list[dict[str, Any]]) -> None:
        url = urlparse(self.path)
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        size = self.server.page_size
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            headers["link"] = (
                f'<{self.server.url}{url.path}?per_page=100&page={page + 1}>; rel="next"'
            )
        self._send(200, chunk, headers)

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path == f"/repos/{REPO}/pulls/{PR}":
            return self._send(200, {"number": PR, "head": {"sha": self.server.head_sha}})
        if path == f"/repos/{REPO}/pulls/{PR}/comments":
            return self._page(self.server.review_comments)
        if path == f"/repos/{REPO}/issues/{PR}/comments":
            return self._page(self.server.issue_comments)
        self._send(404, {"message": "Not Found"})

    def _write(self, method: str) -> None:
        if self.headers.get("authorization") != "Bearer gh-test-token":
            return self._send(401, {"message": "Bad credentials"})
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        path = urlparse(self.path).path
        with self.server.lock:
            if self.server.rate_limit_pending:
                self.server.rate_limit_pending = False
                self.server.refused.append(path)
                message = "You have exceeded a secondary rate limit. Please wait."
                return self._send(403, {"message": message}, {"retry-after": "0.2"})
            self.server.writes.append((method, path, body))
            if method == "POST" and path == f"/repos/{REPO}/pulls/{PR}/reviews":
                for comment in body["comments"]:
                    self.server.review_comments.append({"id": self.server.new_id(), **comment})
                return self._send(200, {"id": self.server.new_id()})
            if method == "POST" and path == f"/repos/{REPO}/issues/{PR}/comments":
                comment = {"id": self.server.new_id(), "body": body["body"]}
                self.server.issue_comments.append(comment)
                return self._send(201, comment)
            match = re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", path)
            if method == "PATCH" and match:
                for comment in self.server.issue_comments:
                    if comment["id"] == int(match.group(1)):
                        comment["body"] = body["body"]
                        return self._send(200, comment)
        self._send(404, {"message": "Not Found"})

    def do_POST(self) -> None:
        self._write("POST")

    def do_PATCH(self) -> None:
        self._write("PATCH")
