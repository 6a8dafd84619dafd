"""An OpenAI app run by test_launcher_coexistence.py with the official openai-v2 instrumentation
enabled beside costline's. Tagged calls; the provider's host is on the baggage allow-list."""

from __future__ import annotations

import os

import openai

import costline

BASE = os.environ["FAKE_PROVIDER_URL"]
MESSAGES = [{"role": "user", "content": "one two three"}]


def main() -> None:
    client = openai.OpenAI(base_url=BASE + "/v1", api_key="k", max_retries=0)
    with costline.attribution(customer_id="acme"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        client.embeddings.create(model="text-embedding-3-small", input="one two")
        client.responses.create(model="gpt-5", input="one two three")


if __name__ == "__main__":
    main()
