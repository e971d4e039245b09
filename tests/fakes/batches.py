"""Local fake batch endpoints (a test double, never a real model) on 127.0.0.1: the OpenAI
Files + Batch API and Anthropic Message Batches, answering each request in a batch exactly as
the fake live routes do (tests/fakes/servers.py), over real HTTP through the official SDKs.

Routes:
    POST /v1/files                          multipart upload (purpose=batch)
    POST /v1/batches, GET /v1/batches/{id}  OpenAI batch create / retrieve
    GET  /v1/files/{id}/content             OpenAI output and error files (JSONL)
    POST /v1/messages/batches               Anthropic create
    GET  /v1/messages/batches/{id}          Anthropic retrieve
    GET  /v1/messages/batches/{id}/results  Anthropic results (JSONL)

A batch ends after ``polls_to_end`` retrieves, unless ``hold`` is set (then it stays in
progress until ``release()``). ``line_faults`` maps a request's number across all batches
(1-based, in submission order) to "error" (the request errored), "schema" (an answer the
schema rejects) or "missing" (absent from the results, as when a batch expires); ``end_state``
is the OpenAI end state ("completed", "expired", ...). ``poll_faults`` maps a retrieve's
number to "500", "404" or "401"; ``submit_faults`` maps a create's number to "429" (with
Retry-After) or "400". The live routes (/v1/chat/completions, /v1/messages) still work:
requests the batch runner sends again live land there.
"""

from __future__ import annotations

import email.parser
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.servers import FakeModelServer, _Handler

_BATCH = re.compile(r"^/v1/batches/([\w-]+)$")
_FILE = re.compile(r"^/v1/files/([\w-]+)/content$")
_MESSAGE_BATCH = re.compile(r"^/v1/messages/batches/([\w-]+)(/results)?$")


class FakeBatchServer(FakeModelServer):
    def __init__(
        self,
        polls_to_end: int = 2,
        hold: bool = False,
        line_faults: dict[int, str] | None = None,
        poll_faults: dict[int, str] | None = None,
        end_state: str = "completed",
        submit_faults: dict[int, str] | None = None,
        **live: Any,
    ) -> None:
        super().__init__(**live)
        self.polls_to_end, self.end_state = polls_to_end, end_state
        self.line_faults = line_faults or {}
        self.poll_faults = poll_faults or {}
        self.submit_faults = submit_faults or {}
        self.creates = 0  # create calls, failed ones included
        self.held = threading.Event()
        if hold:
            self.held.set()
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []  # batch ids, in creation order
        self.polls = 0
        self.lines_seen = 0

    def release(self) -> None:
        self.held.clear()

    def submit(self, kind: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        with self.lock:
            number = len(self.created) + 1
            batch_id = f"{'batch' if kind == 'openai' else 'msgbatch'}_fake{number:03d}"
            faults = []
            for _ in lines:
                self.lines_seen += 1
                faults.append(self.line_faults.get(self.lines_seen, ""))
            record = {"id": batch_id, "kind": kind, "lines": lines, "faults": faults,
                      "polls": 0, "ended": False, "created": datetime.now(UTC)}  # fmt: skip
            self.batches[batch_id] = record
            self.created.append(batch_id)
        return record

    def poll(self, batch_id: str) -> tuple[dict[str, Any] | None, str]:
        """The batch after one more retrieve, and the fault of this retrieve."""
        with self.lock:
            self.polls += 1
            fault = self.poll_faults.get(self.polls, "")
            record = self.batches.get(batch_id)
            if record is None or fault:
                return record, fault or "404"
            record["polls"] += 1
            if not self.held.is_set() and record["polls"] >= self.polls_to_end:
                record["ended"] = True
        return record, ""

    def answer(self, record: dict[str, Any], index: int, body: dict[str, Any]) -> Any:
        """One request's result payload, or None when it has none ("missing")."""
        fault = record["faults"][index]
        if fault == "missing":
            return None
        if fault == "error":
            return "error"
        payload, user = self.reply_payload(body, record["kind"] == "anthropic",
                                           "schema" if fault == "schema" else "")  # fmt: skip
        with self.lock:
            self.answered.append(user)
        return payload


class _BatchHandler(_Handler):
    server: FakeBatchServer

    def do_POST(self) -> None:
        if self.path == "/v1/files":
            return self._upload()
        if self.path in ("/v1/batches", "/v1/messages/batches"):
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with self.server.lock:
                self.server.creates += 1
                fault = self.server.submit_faults.get(self.server.creates, "")
            if fault:
                headers = {"retry-after": f"{self.server.retry_after:g}"} if fault == "429" else {}
                error = {"type": "rate_limit_error" if fault == "429" else "invalid_request_error",
                         "message": f"scripted {fault}"}  # fmt: skip
                return self._send(int(fault), {"type": "error", "error": error}, headers)
            if self.path == "/v1/batches":
                return self._openai_create(body)
            return self._anthropic_create(body)
        super().do_POST()

    def do_GET(self) -> None:
        if match := _BATCH.match(self.path):
            return self._openai_retrieve(match.group(1))
        if match := _FILE.match(self.path):
            data = self.server.files.get(match.group(1))
            if data is None:
                return self._send(404, {"error": {"message": "no such file"}}, {})
            return self._raw(data)
        if match := _MESSAGE_BATCH.match(self.path):
            if match.group(2):
                return self._anthropic_results(match.group(1))
            return self._anthropic_retrieve(match.group(1))
        super().do_GET()

    # OpenAI

    def _upload(self) -> None:
        length = int(self.headers.get("content-length", 0))
        raw = self.rfile.read(length)
        head = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser().parsebytes(head + raw)
        fields = {
            part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.get_payload()  # type: ignore[union-attr]
        }
        data = fields.get("file") or b""
        file_id = f"file-fake{len(self.server.files) + 1:03d}"
        self.server.files[file_id] = data
        self._send(200, {"id": file_id, "object": "file", "bytes": len(data), "created_at": 0,
                         "filename": "batch.jsonl", "purpose": "batch", "status": "processed"},
                   {})  # fmt: skip

    def _openai_create(self, body: dict[str, Any]) -> None:
        data = self.server.files.get(body.get("input_file_id", ""))
        if data is None:
            return self._send(400, {"error": {"message": "input file not found"}}, {})
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        assert all(line["url"] == body["endpoint"] for line in lines), "endpoint mismatch"
        record = self.server.submit("openai", lines)
        record["endpoint"] = body["endpoint"]
        self._send(200, self._openai_batch(record, "validating"), {})

    def _openai_retrieve(self, batch_id: str) -> None:
        record, fault = self.server.poll(batch_id)
        if fault:
            status = int(fault)
            return self._send(status, {"error": {"message": f"scripted {status}"}}, {})
        assert record is not None
        if not record["ended"]:
            return self._send(200, self._openai_batch(record, "in_progress"), {})
        if "output_file_id" not in record:
            output, errors = [], []
            for i, line in enumerate(record["lines"]):
                payload = self.server.answer(record, i, line["body"])
                row = {"id": f"batch_req_{i}", "custom_id": line["custom_id"], "error": None}
                if payload == "error":
                    row["response"] = {
                        "status_code": 500,
                        "request_id": f"req_{i}",
                        "body": {
                            "error": {"message": "scripted batch error", "type": "server_error"}
                        },
                    }
                    errors.append(row)
                elif payload is not None:
                    row["response"] = {"status_code": 200, "request_id": f"req_{i}",
                                       "body": payload}  # fmt: skip
                    output.append(row)
            for name, rows in (("output_file_id", output), ("error_file_id", errors)):
                file_id = f"file-{name[:-8]}-{batch_id}"
                self.server.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                record[name] = file_id if rows else None
        self._send(200, self._openai_batch(record, self.server.end_state), {})

    def _openai_batch(self, record: dict[str, Any], status: str) -> dict[str, Any]:
        total = len(record["lines"])
        ended = status not in ("validating", "in_progress")
        failed = sum(1 for f in record["faults"] if f == "error") if ended else 0
        return {
            "id": record["id"], "object": "batch", "endpoint": record.get("endpoint"),
            "errors": None, "input_file_id": "file-in", "completion_window": "24h",
            "status": status, "created_at": 0,
            "output_file_id": record.get("output_file_id"),
            "error_file_id": record.get("error_file_id"),
            "request_counts": {"total": total, "completed": total - failed if ended else 0,
                               "failed": failed},
        }  # fmt: skip

    # Anthropic

    def _anthropic_create(self, body: dict[str, Any]) -> None:
        requests = body.get("requests") or []
        for request in requests:
            if not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", request.get("custom_id", "")):
                return self._send(400, {"type": "error", "error": {
                    "type": "invalid_request_error", "message": "bad custom_id"}}, {})  # fmt: skip
        record = self.server.submit("anthropic", requests)
        self._send(200, self._anthropic_batch(record), {})

    def _anthropic_retrieve(self, batch_id: str) -> None:
        record, fault = self.server.poll(batch_id)
        if fault:
            status = int(fault)
            error = {"type": "error", "error": {"type": "api_error", "message": "scripted"}}
            return self._send(status, error, {})
        assert record is not None
        self._send(200, self._anthropic_batch(record), {})

    def _anthropic_results(self, batch_id: str) -> None:
        record = self.server.batches.get(batch_id)
        if record is None or not record["ended"]:
            error = {"type": "not_found_error", "message": "not ended"}
            return self._send(404, {"type": "error", "error": error}, {})
        rows = []
        for i, request in enumerate(record["lines"]):
            payload = self.server.answer(record, i, request["params"])
            if payload is None:
                result: dict[str, Any] = {"type": "expired"}
            elif payload == "error":
                result = {"type": "errored", "error": {"type": "error", "error": {
                    "type": "api_error", "message": "scripted batch error"}}}  # fmt: skip
            else:
                result = {"type": "succeeded", "message": payload}
            rows.append({"custom_id": request["custom_id"], "result": result})
        self._raw("".join(json.dumps(r) + "\n" for r in rows).encode())

    def _anthropic_batch(self, record: dict[str, Any]) -> dict[str, Any]:
        total, ended = len(record["lines"]), record["ended"]
        faults = record["faults"]
        errored = sum(1 for f in faults if f == "error") if ended else 0
        expired = sum(1 for f in faults if f == "missing") if ended else 0
        created: datetime = record["created"]
        return {
            "id": record["id"], "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else total,
                               "succeeded": total - errored - expired if ended else 0,
                               "errored": errored, "canceled": 0, "expired": expired},
            "created_at": created.isoformat(),
            "expires_at": (created + timedelta(hours=24)).isoformat(),
            "ended_at": datetime.now(UTC).isoformat() if ended else None,
            "results_url": f"{self.server.url}/v1/messages/batches/{record['id']}/results"
            if ended else None,
        }  # fmt: skip

    def _raw(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/binary")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


FakeBatchServer.handler = _BatchHandler
