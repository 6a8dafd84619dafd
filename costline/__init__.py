"""costline: OpenTelemetry-native LLM cost attribution.

App code needs two things from here: `attribution(**tags)` to tag a request once at
its entry, and `step(name)` to mark an agent step. Both live in
`costline.instrumentation`; the server lives in `costline.processor`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["attribution", "step", "__version__"]


def __getattr__(name: str):  # lazy, so `import costline` stays cheap
    if name in ("attribution", "step"):
        from costline.instrumentation import attribution as _attribution
        from costline.instrumentation import steps as _steps

        return {"attribution": _attribution.attribution, "step": _steps.step}[name]
    raise AttributeError(f"module 'costline' has no attribute {name!r}")
