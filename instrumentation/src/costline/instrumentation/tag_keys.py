"""How a tag is named in baggage and on spans: `customer_id` travels as `costline.customer_id`.

The one vocabulary that attribution (which sets tags), the baggage span processor (which
copies them onto spans), the trust boundary (which keeps them from third parties) and the
untagged check share, so none of them imports another for a constant.
"""

from __future__ import annotations

PREFIX = "costline."


def baggage_key(tag: str) -> str:
    """The baggage entry name for a tag (`customer_id` -> `costline.customer_id`)."""
    return tag if tag.startswith(PREFIX) else PREFIX + tag
