"""Model names as spans spell them -> the (provider, model) lookups to try, in order.

Frameworks and gateways write model names their own way: LiteLLM and LangChain
prefix the route (`openai/gpt-4o`, `bedrock/us.anthropic.claude-...`,
`vertex_ai/gemini-2.5-pro`, `azure/my-deployment`), Google's SDK writes the
resource name (`models/gemini-2.5-flash`, `projects/p/locations/l/publishers/
google/models/...`), Bedrock spans carry model ids (`anthropic.claude-...-v1:0`,
with an inference-profile prefix `us.`, `eu.`, `apac.`, `global.`...) or ARNs
and often no Bedrock provider hint. `lookups` turns one span's names into the
ordered list of `Lookup(ref, provider, url)` that pricing asks genai-prices.

Design notes:
- A route the name states wins over the span's provider hint: `bedrock/...` and
  Bedrock ids price at Bedrock's rates (`aws`), `vertex_ai/...` and Google
  resource names at Google's, `azure/...` at Azure's (genai-prices falls back to
  OpenAI's list price where it has no Azure price of its own). When a name states a
  route, nothing else is guessed: a Bedrock id missing from the data is unpriced,
  never priced at the vendor's own API rate.
- A vendor prefix (`openai/`, `anthropic/`, `deepseek/`...) is tried after the name
  as written with the span's hint, because routers (OpenRouter, Together) use the
  same spelling for their own models and prices.
- `deployments` (config `pricing.deployments`) maps Azure deployment names (or any
  exact name) to a model name before anything else; the mapped name may itself
  carry a route (`azure/gpt-4o`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from costline_processor.normalize.providers import normalize_provider

# LiteLLM's provider prefixes (and the ids genai-prices knows them by) that name a cloud route.
ROUTES = {
    "bedrock": "aws",
    "bedrock_converse": "aws",
    "aws": "aws",
    "amazon-bedrock": "aws",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "vertex": "google",
    "gemini": "google",
    "azure": "azure",
    "azure_ai": "azure",
}
# Vendor prefixes: the vendor's own API, tried after the name as written.
VENDORS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "google": "google",
    "mistral": "mistral",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x-ai",
    "x-ai": "x-ai",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "together_ai": "together",
    "fireworks_ai": "fireworks",
    "perplexity": "perplexity",
    "cerebras": "cerebras",
    "openrouter": "openrouter",
    "moonshot": "moonshotai",
    "moonshotai": "moonshotai",
}
_LITELLM_MODES = ("converse/", "invoke/")  # bedrock/converse/<id>, bedrock/invoke/<id>
# Bedrock model ids: [profile.]vendor.model[-vN[:M]], e.g. us.anthropic.claude-sonnet-4-5-20250929-v1:0
_BEDROCK_ID = re.compile(
    r"^(?:(?:us|eu|apac|au|jp|ca|in|us-gov|global)\.)?"
    r"(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|google|nvidia|moonshotai|zai|minimax)"
    r"\.[a-z0-9][a-z0-9.\-:]*$"
)
_GOOGLE_RESOURCE = ("models/", "projects/", "publishers/")


@dataclass(frozen=True, slots=True)
class Lookup:
    """One question for genai-prices: this name, from this provider (or API URL), or any."""

    ref: str
    provider: str | None = None
    url: str | None = None
    route: bool = False  # the provider comes from the name itself (a cloud route)


def bedrock_vendor(name: str) -> str | None:
    """'anthropic' for 'us.anthropic.claude-...-v1:0' (a Bedrock model id), else None."""
    m = _BEDROCK_ID.match(name.lower())
    return m.group(1) if m else None


_FAMILIES = (
    ("claude", "anthropic"),
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("text-embedding", "openai"),
    ("gemini", "google"),
    ("gemma", "google"),
    ("grok", "x-ai"),
    ("deepseek", "deepseek"),
    ("mistral", "mistral"),
    ("llama", "meta"),
)


def vendor_of(model_id: str) -> str | None:
    """Who makes a model, from its id: 'anthropic' for 'regional.anthropic.claude-...' or 'claude-sonnet-4-5'."""
    name = model_id.lower().removeprefix("regional.")
    found = bedrock_vendor(name)
    if found:
        return found
    return next((vendor for prefix, vendor in _FAMILIES if name.startswith(prefix)), None)


def makers_name(model_id: str) -> str:
    """A route's model id as its maker names the model: 'claude-sonnet-4-5-20250929' for Bedrock's
    'us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4' for Vertex's 'claude-sonnet-4@20250514'."""
    name = model_id.lower().removeprefix("regional.")
    m = _BEDROCK_ID.match(name)
    if m:
        name = re.sub(r"-v\d+(:\d+)?$", "", name[m.end(1) + 1 :])
    return name.split("@", 1)[0]


def split_route(name: str) -> tuple[str | None, str, bool]:
    """(provider, bare name, is_cloud_route) for one name; provider None when the name states none."""
    n = name.strip()
    if n.startswith("arn:aws"):  # arn:aws:bedrock:<region>:<acct>:inference-profile/<id>
        return "aws", n.rsplit("/", 1)[-1], True
    low = n.lower()
    if low.startswith(_GOOGLE_RESOURCE) and "models/" in low:
        return "google", n[low.rindex("models/") + len("models/") :], True
    if "/" in n:
        head, rest = n.split("/", 1)
        head = head.lower()
        if head in ROUTES:
            for mode in _LITELLM_MODES:
                if rest.lower().startswith(mode):
                    rest = rest[len(mode) :]
            if head in ("vertex_ai", "vertex_ai_beta", "gemini") and rest.lower().startswith("models/"):
                rest = rest[len("models/") :]
            return ROUTES[head], rest, True
        if head in VENDORS:
            return VENDORS[head], rest, False
    if bedrock_vendor(n):
        return "aws", n, True
    return None, n, False


def lookups(
    names: list[str], provider: str | None, server_address: str | None, deployments: dict[str, str] | None = None
) -> list[Lookup]:
    """The lookups to try for a span's model names (response model first), best first."""
    hint = normalize_provider(provider) if provider else None
    url = None
    if server_address:
        url = server_address if "://" in server_address else f"https://{server_address}"
    routed, vendor, plain = [], [], []
    for raw in names:
        name = (deployments or {}).get(raw.strip().lower(), raw)
        route_provider, bare, is_route = split_route(name)
        bare = (deployments or {}).get(bare.strip().lower(), bare)
        if is_route:
            routed.append(Lookup(bare, route_provider, None, True))
            continue
        plain.append(name)
        if route_provider:
            vendor.append(Lookup(bare, route_provider))
    found = list(routed)
    for name in plain:
        if hint:
            found.append(Lookup(name, hint))
        if url:
            found.append(Lookup(name, None, url))
    found += vendor
    if not routed:
        found += [Lookup(name) for name in plain]
    return list(dict.fromkeys(found))


def names_of(lookups_: list[Lookup]) -> list[str]:
    """Every distinct model name the lookups mention (for price-file matching)."""
    return list(dict.fromkeys(lk.ref for lk in lookups_))
