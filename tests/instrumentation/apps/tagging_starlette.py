"""A Starlette app whose requests costline's ASGI middleware tags from headers.

`x-feature` and `x-customer` become `feature` and `customer_id`. A request without them
makes its model call untagged: at run time that is reported (marker `untagged`); the lint,
told the module is tagged by its caller, reports nothing here.
"""

# costline: tagged-by-caller (the middleware tags every request; the lint cannot see that)

from __future__ import annotations

import openai
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from costline.instrumentation.middleware import CostlineASGIMiddleware

HEADERS = {"x-feature": "feature", "x-customer": "customer_id"}


def build(openai_url: str) -> Starlette:
    client = openai.AsyncOpenAI(base_url=openai_url, api_key="k", max_retries=0)

    async def ask(request: Request) -> JSONResponse:
        answer = await client.chat.completions.create(  # untagged
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
        return JSONResponse({"id": answer.id})

    return Starlette(
        routes=[Route("/ask", ask, methods=["POST"])], middleware=[Middleware(CostlineASGIMiddleware, headers=HEADERS)]
    )
