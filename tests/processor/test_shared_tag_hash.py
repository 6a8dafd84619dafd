"""The tag policy's hash applied owner by owner: a hashed tag with several owners still splits."""

from __future__ import annotations

import json

from costline_processor.assembly.policy import TagPolicy
from costline_processor.shares import owners


def test_a_hashed_tag_is_hashed_owner_by_owner_and_still_splits():
    policy = TagPolicy({"*": ["*"]}, ["customer_id"], [], b"key", lambda key: None)
    one = policy.hash("acme")
    weights = {one: 3, policy.hash("globex"): 1}
    assert policy.hash('{"acme":3,"globex":1}') == json.dumps(weights, separators=(",", ":"), sort_keys=True)
    assert [name for name, *_ in owners(policy.hash('["acme","globex"]'))] == sorted([one, policy.hash("globex")])
    for value in ('["acme","globex"]', '{"acme":3,"globex":1}'):
        hashed = policy.hash(value)
        assert policy.hash(hashed) == hashed  # hashed upstream already: kept as it is
