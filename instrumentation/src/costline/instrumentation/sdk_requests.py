"""Observe every model request the openai and anthropic SDKs send, whatever instruments them.

For the pytest plugin (`pytest_plugin`), which must see every model call of a test run
whether or not costline's instrumentors are on. Where to watch:

- not the resource methods (`Completions.create`, `Messages.stream`...): costline's and
  other libraries' instrumentors wrap those with wrapt, and a wrapper found there makes
  costline defer to "another instrumentation" (`coexistence.wrapped_by_other`), and
  `unwrap` removes whichever wrapper is outermost. An observer there would change what
  the suite under test does.
- `request(cast_to, options, ...)` of the SDK's `SyncAPIClient` / `AsyncAPIClient`: every
  call of every resource (and `with_raw_response`, `with_streaming_response`, the stream
  helpers when they are entered) goes through it once, before its retry loop, in the
  caller's context, with the method and path in `options`. It has kept that shape since
  openai 1.0 and anthropic 0.x. It is replaced by a plain function (not a wrapt wrapper),
  so `coexistence.request_wrapped_check`, which looks for wrapt wrappers there, sees nothing.

A model call is a POST whose path ends in one of `MODEL_PATHS` (chat completions,
Responses, embeddings, legacy completions, Anthropic messages). The observer runs in the
caller's context (async: when the request coroutine starts), before the request is sent.
`install` returns the function that puts the original methods back.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

MODEL_PATHS = ("/chat/completions", "/responses", "/embeddings", "/completions", "/messages")
Observer = Callable[[str, str], None]  # (SDK package, request path), called before the request is sent


def model_path(options: Any) -> str | None:
    """The request's path if it is a model call, else None."""
    if str(getattr(options, "method", "")).lower() != "post":
        return None
    path = urlsplit(str(getattr(options, "url", ""))).path
    return path if path.rstrip("/").endswith(MODEL_PATHS) else None


def _observed(original: Any, package: str, observer: Observer) -> Any:
    def request(self: Any, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        path = model_path(options)
        if path is not None:
            observer(package, path)
        return original(self, cast_to, options, *args, **kwargs)

    async def async_request(self: Any, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        path = model_path(options)
        if path is not None:
            observer(package, path)
        return await original(self, cast_to, options, *args, **kwargs)

    return async_request if inspect.iscoroutinefunction(original) else request


def install(observer: Observer, packages: tuple[str, ...] = ("openai", "anthropic")) -> Callable[[], None]:
    """Observe the SDKs among `packages` that are installed; returns the function that undoes it."""
    patched: list[tuple[Any, Any, Any]] = []  # (the SDK's client class, its `request`, ours)
    for package in packages:
        try:
            base = importlib.import_module(f"{package}._base_client")
        except ImportError:
            continue
        for cls in (base.SyncAPIClient, base.AsyncAPIClient):
            original = cls.__dict__.get("request")
            if original is None:
                continue
            replacement = _observed(original, package, observer)
            cls.request = replacement
            patched.append((cls, original, replacement))

    def uninstall() -> None:
        while patched:
            cls, original, replacement = patched.pop()
            if cls.__dict__.get("request") is replacement:  # leave alone what others put on top since
                cls.request = original

    return uninstall
