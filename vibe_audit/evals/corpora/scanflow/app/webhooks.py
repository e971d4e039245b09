"""Outgoing webhook: tells the customer's system that a document is processed."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

import requests

log = logging.getLogger(__name__)


class WebhookError(RuntimeError):
    pass


def _sign(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def send(url: str, secret: str, event: str, data: dict[str, Any], attempts: int = 3) -> None:
    body = {
        "event": event,
        "data": data,
        "sent_at": datetime.now(timezone.utc).isoformat(),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Scanflow-Signature": _sign(secret, raw)}
    for attempt in range(attempts):
        try:
            resp = requests.post(url, data=raw, headers=headers)
            if resp.status_code < 300:
                return
            log.warning("webhook %s answered %s (attempt %d)", url, resp.status_code, attempt + 1)
        except requests.RequestException as exc:
            log.warning("webhook %s failed (attempt %d): %s", url, attempt + 1, exc)
        time.sleep(2**attempt)
    raise WebhookError(f"webhook {event} to {url} failed after {attempts} attempts")
