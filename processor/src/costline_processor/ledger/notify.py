"""Alert notifications: one Slack-compatible JSON message per alert that fires, POSTed to a webhook.

    alerts --message--> {"text": ..., "blocks": [section]} --post(url)--> the failures, as sentences

The body is what a Slack incoming webhook takes (`text`, with `blocks` for the formatted
version), and Mattermost, Rocket.Chat, Discord's /slack endpoint and most chat relays take the
same. Subjects come from tags the senders chose, so `&`, `<` and `>` are escaped as Slack asks:
a customer_id of `<!channel>` is shown, never a ping of the channel. A webhook URL is a secret
(it is the credential), so messages about it name its scheme and host only. Every alert is
tried once, with a deadline; a failure never raises: the caller gets it back to report.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from costline_processor.config import ConfigError
from costline_processor.ledger.alerts import Alert

TIMEOUT_S = 10.0


def check_url(url: str) -> str:
    """The URL, when it is an http(s) URL with a host; else a ConfigError sentence."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--notify needs an http:// or https:// webhook URL, not {where(url)!r}")
    return url


def where(url: str) -> str:
    """What a message may say of a webhook URL: its scheme and host (the path is the secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.hostname else "?"


def message(alert: Alert) -> dict:
    """The JSON body of one alert's message."""
    text = _escape(f"costline alert {alert.alert}: {alert.message}")
    detail = _escape(f"*{alert.alert}* — {alert.subject}\n{alert.message}")
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": detail}}]}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def post(url: str, alerts: list[Alert], timeout_s: float | None = None) -> list[str]:
    """POST each alert's message to `url` (each within timeout_s, default TIMEOUT_S); the failures, one short
    reason each (empty: all delivered). When the webhook cannot be reached at all, the alerts after that one are
    not tried (a thousand customers over budget must not wait out a thousand timeouts) and fail for that reason."""
    timeout_s = timeout_s or TIMEOUT_S
    failures: list[str] = []
    for i, alert in enumerate(alerts):
        body = json.dumps(message(alert)).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:
                answer.read()
        except urllib.error.HTTPError as e:
            failures.append(f"HTTP {e.code}")
        except (OSError, ValueError, http.client.HTTPException) as e:  # refused, unreachable, timeout, TLS, garbled
            reason = str(getattr(e, "reason", None) or e) or type(e).__name__
            failures += [reason] * (len(alerts) - i)
            break
    return failures


def failure_line(url: str, sent: int, failures: list[str]) -> str:
    """The one line a command prints on stderr when messages did not get through."""
    reasons = ", ".join(dict.fromkeys(failures))
    return f"could not post {len(failures)} of {sent} alert messages to {where(url)}: {reasons}"
