"""costline: OpenTelemetry-native LLM cost attribution.

App code needs two things from here: `attribution(**tags)` to tag a request once at
its entry, and `step(name)` to mark an agent step; an app that builds its own
OpenTelemetry `TracerProvider` (instead of running under `opentelemetry-instrument`)
also calls `install(tracer_provider)` once, so spans carry the tags. All three live in
`costline.instrumentation`; the server lives in `costline_processor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from costline.instrumentation.version import __version__

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports them on first use
    from costline.instrumentation.attribution import attribution
    from costline.instrumentation.configurator import install
    from costline.instrumentation.steps import step
    from costline.instrumentation.untagged import UntaggedCallError

__all__ = ["UntaggedCallError", "__version__", "attribution", "install", "step"]


def __getattr__(name: str) -> Any:  # lazy, so `import costline` stays cheap
    if name == "attribution":
        from costline.instrumentation.attribution import attribution

        return attribution
    if name == "step":
        from costline.instrumentation.steps import step

        return step
    if name == "install":  # `install(tracer_provider)`: the span processor and trust boundary on a hand-built SDK
        from costline.instrumentation.configurator import install

        return install
    if name == "UntaggedCallError":  # raised before the request under COSTLINE_UNTAGGED=error
        from costline.instrumentation.untagged import UntaggedCallError

        return UntaggedCallError
    raise AttributeError(f"module 'costline' has no attribute {name!r}")
