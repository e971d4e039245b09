"""A local fake model server (a test double, never a real model) speaking the OpenAI Chat
Completions and Anthropic Messages wire formats on 127.0.0.1, with injectable faults.

By default it answers every request with a scripted finding that quotes the first code line
of the request containing ``marker`` (or no finding). ``faults`` maps a request number
(1-based, in arrival order) to a fault:

    "429"            HTTP 429 with Retry-After: <retry_after> seconds
    "500"            HTTP 500
    "timeout"        no answer for <hang> seconds
    "truncated"      the JSON answer cut in half
    "schema"         valid JSON that breaks the schema (unknown category)
    "length"         finish_reason "length" / stop_reason "max_tokens", text cut
    "ghost"          a finding citing a file that does not exist
    "reject-schema"  HTTP 400 saying json_schema is unsupported (OpenAI route only)
    "reset"          the connection closed with no answer
    "cut"            the answer's body cut off mid-stream (Content-Length says more)

A fault set ``always`` applies to every request (e.g. {"500"} for a dead server).

``abandoned`` counts the requests whose client was gone (killed, or gave up) before the
answer was sent: a request in flight when its client died. ``wait_quiet()`` waits until no
request is being served and none has arrived for a while, so a test counts requests only
after everything a killed client sent has reached the server.
"""

from __future__ import annotations

import json
import re
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_BEGIN = re.compile(r"^BEGIN (VIBE-AUDIT-DATA-\w+)$", re.M)
_LINE = re.compile(r"^\s*(\d+) \| (.*)$")
_FILE = re.compile(r"^- File: (.+) \(\w+\)$", re.M)
_AUDIT = re.compile(r"^Audit: (\w+) ", re.M)
CATEGORY = {"concurrency": "SQLite", "checkpoint": "Atomicity", "sqlite": "Async",
            "reliability": "Timeout", "guardrails": "Transactions"}  # fmt: skip
ITEM = {"concurrency": "concurrency.1B", "checkpoint": "checkpoint.2A", "sqlite": "sqlite.5A",
        "reliability": "reliability.1.2", "guardrails": "guardrails.1A"}  # fmt: skip


def scripted_answer(user: str, marker: str, ghost: bool = False) -> dict[str, Any]:
    token = _BEGIN.search(user)
    audit = _AUDIT.search(user)
    path = _FILE.search(user)
    if token is None or audit is None or path is None:
        return {
            "findings": [],
            "needs_confirmation": ["no code in the request"],
            "checked_items": [],
        }
    code = user.split(f"BEGIN {token.group(1)}\n", 1)[1].split(f"\nEND {token.group(1)}", 1)[0]
    findings = []
    current = path.group(1)  # a pack of several files starts each with 'FILE <token> <path>'
    for line in code.splitlines():
        if line.startswith(f"FILE {token.group(1)} "):
            current = line.split(" ", 2)[2]
            continue
        match = _LINE.match(line)
        if match and (marker in match.group(2) or ghost):
            number, text = int(match.group(1)), match.group(2)
            name = audit.group(1)
            findings.append({
                "checklist_items": [ITEM[name]], "severity": "HIGH", "category": CATEGORY[name],
                "title": f"Scripted finding at '{marker}'",
                "path": "app/ghost.py" if ghost else current,
                "start_line": number, "end_line": number, "symbol": None,
                "problem": "scripted by the fake server", "scenario": "scripted",
                "impact": "scripted", "confidence": "Medium", "how_to_verify": "scripted",
                "fix": "scripted", "trade_off": "scripted",
                "evidence": [{"line": number, "text": text}],
            })  # fmt: skip
            break
    return {"findings": findings, "needs_confirmation": [], "checked_items": [ITEM[audit.group(1)]]}


class FakeModelServer(ThreadingHTTPServer):
    daemon_threads = True
    handler: type[BaseHTTPRequestHandler]  # set below: _Handler, or a subclass's own

    def __init__(
        self,
        faults: dict[int, str] | None = None,
        always: set[str] | None = None,
        latency: float = 0.0,
        marker: str = "execute(",
        retry_after: float = 1.0,
        hang: float = 3.0,
    ) -> None:
        super().__init__(("127.0.0.1", 0), self.handler)
        self.faults = faults or {}
        self.always = always or set()
        self.latency, self.marker, self.retry_after, self.hang = latency, marker, retry_after, hang
        self.lock = threading.Lock()
        self.requests: list[tuple[float, str, str]] = []  # (time, route, fault)
        self.bodies: list[str] = []  # raw request bodies, for leak checks
        self.answered: list[str] = []  # user messages whose answer was sent in full
        self.cached_prefixes: set[str] = set()  # prompt-cache prefixes seen
        self.abandoned = 0  # requests whose client was gone before the answer
        self.serving = 0  # connections being served now
        self.waiting = 0  # requests in their latency wait now (their clients wait for them)
        self.most_waiting = 0  # the most at once: how many requests were truly concurrent
        self._hold_at = 0  # a request number held unanswered until release_hold()
        self._held, self._released = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FakeModelServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.shutdown()
        self.server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.serving += 1
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.lock:
                self.serving -= 1

    def wait_quiet(self, quiet_s: float = 0.5, timeout_s: float = 60.0) -> int:
        """Wait until no connection is being served and no request arrived for ``quiet_s``;
        the number of requests then. Raises TimeoutError if it never gets quiet."""
        deadline = time.monotonic() + timeout_s
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with self.lock:
                count, busy = len(self.requests), self.serving
            if count != seen or busy:
                seen, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return count
            time.sleep(0.02)
        raise TimeoutError(f"the fake server still busy after {timeout_s:g} s")

    def hold_request(self, number: int) -> threading.Event:
        """Hold request ``number`` (1-based) unanswered until ``release_hold()``; the event
        is set once it arrived, so a test can kill its client while it is in flight."""
        with self.lock:
            self._hold_at = number
            self._held.clear()
            self._released.clear()
        return self._held

    def release_hold(self) -> None:
        self._released.set()

    def next_fault(self, route: str) -> str:
        with self.lock:
            number = len(self.requests) + 1
            fault = self.faults.get(number, "")
            if not fault and self.always:
                fault = next(iter(self.always))
            self.requests.append((time.monotonic(), route, fault))
            if number == self._hold_at:
                fault = "hold"
            return fault

    def prompt_cache(self, body: dict[str, Any], anthropic: bool) -> tuple[int, int]:
        """(tokens read from, tokens written to) this fake's prompt cache. Anthropic: the
        blocks up to the last cache_control breakpoint, if marked; OpenAI: the request's
        prompt_cache_key names the prefix (the fake trusts it: system + shared user prefix
        are the same by construction). A prefix seen before is read, else written."""
        if anthropic:
            blocks = list(body.get("system") or [])
            first = next((m for m in body.get("messages", []) if m.get("role") == "user"), {})
            content = first.get("content")
            blocks += content if isinstance(content, list) else []
            marked = [
                i for i, b in enumerate(blocks) if isinstance(b, dict) and "cache_control" in b
            ]
            if not marked:
                return 0, 0
            prefix = "".join(b.get("text", "") for b in blocks[: marked[-1] + 1])
        else:
            key = body.get("prompt_cache_key")
            if not key:
                return 0, 0
            system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
            prefix = f"{key}:{system}"
        tokens = len(prefix) // 4
        with self.lock:
            seen = prefix in self.cached_prefixes
            self.cached_prefixes.add(prefix)
        if tokens < 256:  # providers cache only long prefixes
            return 0, 0
        return (tokens, 0) if seen else (0, tokens if anthropic else 0)

    def reply_payload(self, body: dict[str, Any], anthropic: bool, fault: str) -> tuple[Any, str]:
        """The answer to one Chat Completions / Messages request body (the live routes and
        the batch routes of tests/fakes/batches.py answer alike), and its user message."""
        messages = body.get("messages", [])
        content = next((m["content"] for m in messages if m.get("role") == "user"), "")
        user = _text(content)
        cached = self.prompt_cache(body, anthropic)
        answer = scripted_answer(user, self.marker, ghost=fault == "ghost")
        if fault == "schema":
            for finding in answer["findings"]:
                finding["category"] = "Not A Category"
            if not answer["findings"]:
                answer["checked_items"] = ["not.an.item"]
        text = json.dumps(answer)
        if fault in ("truncated", "length"):
            text = text[: len(text) // 2]
        usage_in, usage_out = len(json.dumps(body)) // 4, len(text) // 4
        read, written = cached
        if anthropic:
            content: Any = json.loads(text) if fault not in ("truncated", "length") else {}
            payload = {
                "id": "msg_fake", "type": "message", "role": "assistant",
                "model": body.get("model"),
                "content": [{"type": "tool_use", "id": "toolu_fake", "name": "report_audit",
                             "input": content}],
                "stop_reason": "max_tokens" if fault == "length" else "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": max(usage_in - read - written, 0),
                          "output_tokens": usage_out, "cache_read_input_tokens": read,
                          "cache_creation_input_tokens": written},
            }  # fmt: skip
            if fault == "truncated":
                payload["content"][0]["input"] = {"findings": "cut"}
        else:
            payload = {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                "model": body.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "length" if fault == "length" else "stop"}],
                "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out,
                          "total_tokens": usage_in + usage_out,
                          "prompt_tokens_details": {"cached_tokens": read}},
            }  # fmt: skip
        return payload, user

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a hanging request: expected in fault tests


def _text(content: Any) -> str:
    """A message's text: a string, or the text of its content blocks."""
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return str(content)


def _client_gone(connection: socket.socket) -> bool:
    """True when the client closed its end (or reset it) while waiting for its answer: a
    client waiting for an answer sends nothing more, so a readable socket means EOF."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Handler(BaseHTTPRequestHandler):
    server: FakeModelServer

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/stats":
            return self._send(200, {"requests": len(self.server.requests)}, {})
        self._send(404, {"error": "not found"}, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        raw = self.rfile.read(length) or b"{}"
        with self.server.lock:
            self.server.bodies.append(raw.decode("utf-8", errors="replace"))
        body = json.loads(raw)
        anthropic = self.path.endswith("/messages")
        fault = self.server.next_fault("anthropic" if anthropic else "openai")
        if fault == "hold":
            self.server._held.set()
            self.server._released.wait(60)
            fault = ""
        if self.server.latency:
            with self.server.lock:
                self.server.waiting += 1
                self.server.most_waiting = max(self.server.most_waiting, self.server.waiting)
            time.sleep(self.server.latency)
            with self.server.lock:
                self.server.waiting -= 1
        if _client_gone(self.connection):
            with self.server.lock:
                self.server.abandoned += 1
            self.close_connection = True
            return
        if fault == "timeout":
            time.sleep(self.server.hang)
            return
        if fault == "reset":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if fault in ("429", "500") or (fault == "reject-schema" and not anthropic):
            status = {"429": 429, "500": 500, "reject-schema": 400}[fault]
            message = "response_format json_schema is not supported" if status == 400 else fault
            error = {"message": message, "type": "error", "code": None}
            payload = {"type": "error", "error": error} if anthropic else {"error": error}
            headers = {"retry-after": f"{self.server.retry_after:g}"} if status == 429 else {}
            return self._send(status, payload, headers)
        payload, user = self.server.reply_payload(body, anthropic, fault)
        self._send(200, payload, {}, cut=fault == "cut")
        if fault != "cut":
            with self.server.lock:
                self.server.answered.append(user)

    def _send(
        self, status: int, payload: dict[str, Any], headers: dict[str, str], cut: bool = False
    ) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data[: len(data) // 2] if cut else data)
            if cut:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass


FakeModelServer.handler = _Handler


def _serve() -> None:
    """``python -m tests.fakes.servers --latency 1``: serve in this process, print the URL.

    GET /stats answers {"requests": n}. Used by benchmarks that want the server off the
    client's interpreter (its GIL).
    """
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = FakeModelServer(latency=args.latency)
    print(server.url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    _serve()
