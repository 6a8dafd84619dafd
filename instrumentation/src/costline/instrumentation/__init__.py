"""costline's app side: tag requests, trace LLM calls, keep the tags inside your services.

Zero-code setup::

    pip install costline
    COSTLINE_BAGGAGE_ALLOWED_HOSTS="svc-b,*.internal" opentelemetry-instrument python app.py

or, in an app that sets OpenTelemetry up in code, once after building the SDK::

    provider = TracerProvider(resource=...)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    costline.install(provider)          # tags onto spans, trust boundary on the propagator
    OpenAIInstrumentor().instrument()   # costline.instrumentation.openai (and .anthropic)

and, once, where a request enters (or with the ASGI/WSGI middleware)::

    with costline.attribution(customer_id=tenant, feature="search"):
        handle(request)

Without one of the two, no span carries the tags; the first tagged request then logs
one warning saying so (`install_check`).

What the launcher then does (entry points in pyproject.toml):

- `costline_openai` / `costline_anthropic` (`opentelemetry_instrumentor`): one
  `{operation} {model}` CLIENT span per model call with GenAI semantic-convention
  usage (see `openai`, `anthropic`).
- `costline` (`opentelemetry_pre_instrument`, `configurator.before_instrumentors`): sets
  the SDK up if no configurator did, copies `costline.*` baggage onto every span
  (`baggage`), wraps the propagator in the trust boundary (`trust_boundary`) and tracks
  outbound hosts (`destinations`).

Settings (environment, read once at start; instrument() keyword arguments win):

| variable | default | meaning |
| --- | --- | --- |
| `COSTLINE_BAGGAGE_ALLOWED_HOSTS` | none | hosts (`name`, `*.suffix`) that may receive `costline.*` baggage |
| `COSTLINE_TRUST_INBOUND_BAGGAGE` | false | keep `costline.*` baggage that callers send |
| `COSTLINE_OPENAI_INCLUDE_STREAM_USAGE` | false | ask OpenAI chat/completion streams for usage |
| `COSTLINE_DEFER_TO_OTHER_INSTRUMENTATION` | true | no costline span when another GenAI library traces the call |
| `COSTLINE_TAG_HEADERS` | none | `header=tag,...` for the middleware |
| `COSTLINE_UNTAGGED` | ignore | model calls lacking a required tag: `warn`, `error` or `ignore` (below) |
| `COSTLINE_REQUIRE_TAGS` | `feature,customer_id` | the tags `COSTLINE_UNTAGGED` checks (and the pytest plugin) |
| `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` | false | record prompts and completions |

`COSTLINE_OPENAI_INCLUDE_STREAM_USAGE` is the `include_stream_usage=` keyword. Under
`COSTLINE_UNTAGGED`, `warn` logs once per call site and `error` raises `UntaggedCallError`
before the request; either way the call is counted in `costline.untagged_calls`
(`untagged`). Setting `COSTLINE_REQUIRE_TAGS` also turns the pytest plugin on (`pytest_plugin`).

Choosing between costline and another GenAI instrumentation (official openai-v2,
OpenLLMetry, OpenInference, which all register the entry-point name `openai`):

- both installed, defaults: each call gets one model span. Where the other library
  traces a call, costline makes none (`coexistence`) but adds to the other span the
  OpenAI usage details it drops (openai-v2 writes no cache or reasoning counts on chat
  spans), in either wrapping order, never overwriting a value it set
  (`span_completion`); costline still traces what the other leaves alone (e.g. the
  Responses API beside openai-v2) and still tags every span and guards the provider
  request. (Anthropic spans of other libraries are left as they are.)
- costline's spans only (its usage normalisation, 1-hour cache split, missing-usage
  flag, reported cost): `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai` (that name
  disables all three others at once; costline's are `costline_openai`,
  `costline_anthropic`).
- the other library only: `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=costline_openai`.
- both spans on purpose: `COSTLINE_DEFER_TO_OTHER_INSTRUMENTATION=false` (the
  processor then counts usage once, on the deepest span).
- anthropic>=2 traces its own calls (`anthropic.messages.create`); costline's span
  replaces that one for the calls costline traces.

Threads: asyncio tasks inherit tags; plain threads do not. Hand work over with
`attribution.with_current_context(fn)` or `contextvars.copy_context().run`.
`opentelemetry-instrumentation-threading` does this for `Thread` and
`ThreadPoolExecutor` under the launcher, but its 0.66b1 release pins
`opentelemetry-instrumentation==0.66b1`, so install it only with matching versions.

`costline.step(name)` marks an app-defined step (INTERNAL span, `costline.step.name`).
Never put this folder itself on `sys.path`: its `openai/` would shadow the SDK.
"""
