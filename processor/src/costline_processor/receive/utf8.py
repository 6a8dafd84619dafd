"""Strings that are not UTF-8: a request's bad characters are replaced, its spans are kept.

Protobuf's Python parser refuses a whole request when one string field holds bytes that are
not UTF-8, and costline refused the request: every span in it was lost, the sender told 400 /
INVALID_ARGUMENT (which OTLP exporters do not retry). OpenTelemetry JS cuts attribute values to
their length limit in UTF-16 code units, so a cut through an emoji leaves half of it, and its
OTLP/JSON exporter sends that half as a lone surrogate escape ("\ud83d"), which Python's json
decodes into a string protobuf cannot encode: costline refused that request (seen with
@opentelemetry/exporter-trace-otlp-http 0.223.1, sdk-trace-base 2.12.1; its protobuf exporter writes
U+FFFD itself). Over protobuf, bytes that are not UTF-8 come from senders that do not check (the
Collector forwards what it received unchecked; C++ protobuf only logs). The Collector takes both.
So does costline now, on the error path only:

    protobuf  `repaired`: the request parsed with every string field read as bytes (the same
              wire format, a copy of the OTLP schema), what of those fields is not UTF-8 replaced
              by U+FFFD as Python's decoder replaces it, serialised again; IDs and other bytes
              fields untouched
    JSON      `without_surrogates`: each lone surrogate of the decoded document replaced by U+FFFD

A request malformed in any other way is still refused. The receivers count the strings
repaired (`strings_repaired{reason="invalid_utf8"}`) and say it in the log once.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError

log = logging.getLogger("costline")
_BYTES, _MESSAGE = FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE
REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")  # in a str json.loads made, always a lone one (pairs are joined)


def repaired(message_type, data: bytes) -> tuple[bytes, int] | None:
    """(`data` with each invalid UTF-8 sequence in its string fields replaced by U+FFFD, how many strings
    changed), or None when it does not parse even with its strings read as bytes."""
    lenient, strings = _lenient(message_type.DESCRIPTOR.full_name, message_type.DESCRIPTOR.file)
    msg = lenient()
    try:
        msg.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        return None
    changed = _fix(msg, strings)
    return msg.SerializeToString(), changed


def _fix(msg, strings: frozenset[str]) -> int:
    """Replace invalid UTF-8 in `msg`'s former string fields, recursively; how many values changed."""
    changed = 0
    for field, value in msg.ListFields():
        if field.type == _MESSAGE:
            for item in value if field.is_repeated else (value,):
                changed += _fix(item, strings)
        elif field.type == _BYTES and field.full_name in strings:
            if field.is_repeated:
                for i, item in enumerate(value):
                    if (good := _utf8(item)) is not None:
                        value[i], changed = good, changed + 1
            elif (good := _utf8(value)) is not None:
                setattr(msg, field.name, good)
                changed += 1
    return changed


def _utf8(raw: bytes) -> bytes | None:
    """`raw` with its invalid sequences replaced, or None when it is UTF-8 already."""
    try:
        raw.decode()
    except UnicodeDecodeError:
        return raw.decode(errors="replace").encode()
    return None


@cache
def _lenient(full_name: str, file) -> tuple[type, frozenset[str]]:
    """A copy of `full_name`'s schema (and every file it uses) whose string fields are bytes, in a pool of
    its own; and the full names of those fields."""
    pool = descriptor_pool.DescriptorPool()
    strings: set[str] = set()
    for f in _files(file):
        proto = descriptor_pb2.FileDescriptorProto()
        f.CopyToProto(proto)
        for m in proto.message_type:
            _to_bytes(m, f"{proto.package}.", strings)
        pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name)), frozenset(strings)


def _files(file) -> list:
    """`file` and its dependencies, each after the files it depends on."""
    out: list = []
    for dep in file.dependencies:
        out += [f for f in _files(dep) if f not in out]
    return [*out, file]


def _to_bytes(m: descriptor_pb2.DescriptorProto, prefix: str, strings: set[str]) -> None:
    for field in m.field:
        if field.type == descriptor_pb2.FieldDescriptorProto.TYPE_STRING:
            field.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
            strings.add(f"{prefix}{m.name}.{field.name}")
    for nested in m.nested_type:
        _to_bytes(nested, f"{prefix}{m.name}.", strings)


def without_surrogates(doc: Any) -> tuple[Any, int]:
    """A decoded JSON document with each lone surrogate of its strings (keys too) replaced by U+FFFD, and
    how many strings changed."""
    if isinstance(doc, str):
        if _SURROGATE.search(doc) is None:
            return doc, 0
        return _SURROGATE.sub(REPLACEMENT, doc), 1
    if isinstance(doc, list):
        pairs = [without_surrogates(v) for v in doc]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    if isinstance(doc, dict):
        out, changed = {}, 0
        for k, v in doc.items():
            (k2, a), (v2, b) = without_surrogates(k), without_surrogates(v)
            out[k2], changed = v2, changed + a + b
        return out, changed
    return doc, 0


def note(stats, changed: int) -> None:
    """Count the strings a request had repaired; say it in the log the first time (the counter has the rest)."""
    global _said
    if not changed:
        return
    stats.add("strings_repaired", changed, "invalid_utf8")
    if not _said:
        _said = True
        log.warning(
            "a request carried %d string(s) that were not UTF-8 (a sender cut a character in two?): what could "
            "not be read is now U+FFFD and its spans are kept; costline_strings_repaired_total counts them",
            changed,
        )


_said = False
