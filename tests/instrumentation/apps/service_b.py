"""Service B of the two-process test: a WSGI service that calls the LLM providers.

Run as `opentelemetry-instrument python service_b.py`. A bare WSGI app has no framework
instrumentation, so it uses OpenTelemetry's standard WSGI middleware, its only
OpenTelemetry line. Each /ask calls OpenAI and Anthropic (the fake provider) and an
internal service (the fake's /internal path), then answers with the costline tags it
sees. Prints its port, serves until /stop.
"""

from __future__ import annotations

import json
import os
from wsgiref.simple_server import WSGIRequestHandler, make_server

import anthropic
import openai
import requests
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

from costline.instrumentation.attribution import current_tags

BASE = os.environ["FAKE_PROVIDER_URL"]
MESSAGES = [{"role": "user", "content": "summarise the ticket"}]
state = {"stop": False}


def app(environ, start_response):
    if environ["PATH_INFO"] == "/stop":
        state["stop"] = True
        body = b"{}"
    else:
        openai.OpenAI(base_url=BASE + "/v1", api_key="k", max_retries=0).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
        anthropic.Anthropic(base_url=BASE, api_key="k", max_retries=0).messages.create(
            model="claude-fake-1", max_tokens=64, messages=MESSAGES
        )
        requests.get(f"{BASE}/internal/from-b", timeout=30)
        body = json.dumps(current_tags()).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main() -> None:
    server = make_server("127.0.0.1", 0, OpenTelemetryMiddleware(app), handler_class=QuietHandler)
    print(server.server_port, flush=True)
    while not state["stop"]:
        server.handle_request()
    server.server_close()


if __name__ == "__main__":
    main()
