"""Tell the trust boundary where each outbound request goes.

HTTP instrumentations inject baggage deep inside the client (httpx's transport,
requests' `Session.send`, aiohttp's trace hooks), where the propagator cannot see
the URL. These thin wraps sit *above* those points and set the destination host in a
context variable for the duration of the call, so `BoundaryPropagator.inject` can
check it against the allow-list. They change nothing else: the wrapped call gets the
same arguments and its result or exception passes through untouched.

Wrapped: `httpx.Client.send`, `httpx.AsyncClient.send` (and the same on `httpx2`, which
the LLM SDKs use), `requests.Session.request`, `aiohttp.ClientSession._request`,
whichever are installed. Requests sent any other
way have no known destination, so they carry no `costline.*` baggage unless the code
says where they go with `trust_boundary.outbound_to(host)`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from opentelemetry.instrumentation.utils import unwrap
from wrapt import register_post_import_hook, wrap_function_wrapper

from costline.instrumentation.trust_boundary import _destination, host_of

log = logging.getLogger(__name__)


def _sync_send(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    request = args[0] if args else kwargs.get("request")
    token = _destination.set(host_of(getattr(request, "url", None)))
    try:
        return wrapped(*args, **kwargs)
    finally:
        _destination.reset(token)


async def _async_send(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    request = args[0] if args else kwargs.get("request")
    token = _destination.set(host_of(getattr(request, "url", None)))
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _destination.reset(token)


def _requests_request(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    url = args[1] if len(args) > 1 else kwargs.get("url")
    token = _destination.set(host_of(url))
    try:
        return wrapped(*args, **kwargs)
    finally:
        _destination.reset(token)


async def _aiohttp_request(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    url = args[1] if len(args) > 1 else kwargs.get("str_or_url")
    token = _destination.set(host_of(url))  # yarl.URL has .host; str URLs are parsed
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _destination.reset(token)


# (module, "Class.method", wrapper)
_TARGETS = (
    ("httpx", "Client.send", _sync_send),
    ("httpx", "AsyncClient.send", _async_send),
    ("httpx2", "Client.send", _sync_send),
    ("httpx2", "AsyncClient.send", _async_send),
    ("requests.sessions", "Session.request", _requests_request),
    ("aiohttp.client", "ClientSession._request", _aiohttp_request),
)

_installed: list[tuple[Any, str]] = []
_hooked: set[str] = set()
_active = False


def _wrap_module(module: Any) -> None:
    """Post-import hook: wrap this module's targets (if costline is installed and they exist)."""
    if not _active:
        return
    for module_name, path, wrapper in _TARGETS:
        if module_name != module.__name__:
            continue
        owner_name, method = path.split(".")
        owner = getattr(module, owner_name, None)
        if owner is None or not hasattr(owner, method) or (owner, method) in _installed:
            continue
        wrap_function_wrapper(module, path, wrapper)
        _installed.append((owner, method))
        log.debug("costline: tracking destinations of %s.%s", module_name, path)


def install() -> None:
    """Wrap the HTTP clients listed above: now if imported, else when the app imports them.

    Post-import hooks keep start-up free of imports the app may never make.
    """
    global _active
    _active = True
    for module_name in dict.fromkeys(name for name, _, _ in _TARGETS):
        if module_name in sys.modules:
            _wrap_module(sys.modules[module_name])
        if module_name not in _hooked:
            _hooked.add(module_name)
            register_post_import_hook(_wrap_module, module_name)


def uninstall() -> None:
    global _active
    _active = False
    while _installed:
        owner, method = _installed.pop()
        unwrap(owner, method)
