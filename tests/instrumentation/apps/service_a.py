"""Service A of the two-process test: tags a request where it enters and calls service B.

Run as `opentelemetry-instrument python service_a.py` with COSTLINE_BAGGAGE_ALLOWED_HOSTS
naming B's host; it also calls a host that is not on the list. Prints B's answers as JSON.
"""

from __future__ import annotations

import json
import os

import httpx
import requests

import costline

B = os.environ["SERVICE_B_URL"]
EXTERNAL = os.environ["FAKE_PROVIDER_URL"]


def main() -> None:
    with costline.attribution(customer_id="acme", feature="search"):
        via_requests = requests.get(f"{B}/ask/requests", timeout=30).json()
        via_httpx = httpx.get(f"{B}/ask/httpx", timeout=30).json()
        requests.get(f"{EXTERNAL}/external/from-a", timeout=30)
    requests.get(f"{B}/stop", timeout=30)
    print(json.dumps({"requests": via_requests, "httpx": via_httpx}), flush=True)


if __name__ == "__main__":
    main()
