"""Listen addresses: which sockets a HOST:PORT means, and checking them before start.

`localhost` means the loopback of both families, 127.0.0.1 and ::1 (::1 only where the
machine has IPv6), whatever /etc/hosts or gRPC's resolver would pick: gRPC binds every
address it resolves that it can and carries on with the rest, so a Collector on
127.0.0.1:4317 left costline on [::1]:4317 alone while it logged `localhost:4317`. A
name resolves to all its addresses; an IP literal is itself. The receivers bind exactly
`hosts(host)` and log what they bound.

`preflight` binds every address of every listener once (SO_REUSEADDR, as the servers
do; no listen) and lets go, before the ledger is opened or any file is created: a port
in use is one line naming the address, not a traceback after ./costline-ledger.db was
made. A port taken between the check and the real bind still fails the start (one line
from `bind_error`), only later.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket

from costline_processor.config import ConfigError, parse_hostport


def hosts(host: str) -> list[str]:
    """The IP addresses `host` (as parse_hostport returns it) binds, IPv4 first."""
    if host == "localhost":
        return ["127.0.0.1", "::1"] if _has_ipv6_loopback() else ["127.0.0.1"]
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"cannot listen on {host}: the name does not resolve ({e.strerror})") from None
    found = sorted({(fam, str(sa[0])) for fam, _, _, _, sa in infos}, key=lambda a: (a[0] != socket.AF_INET, a[1]))
    return [addr for _, addr in found]


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def preflight(listeners: list[tuple[str, str]]) -> None:
    """Each (flag, HOST:PORT) can be bound on every address it means, or ConfigError (one line)."""
    for flag, value in listeners:
        host, port = parse_hostport(value, flag)
        for addr in hosts(host):
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((addr, port))
                except OSError as e:
                    raise bind_error(flag, value, hostport(addr, port), e) from None


def bind_error(flag: str, value: str, addr: str, e: BaseException) -> ConfigError:
    if isinstance(e, OSError) and e.errno == errno.EADDRINUSE:
        who = (
            "another OTLP receiver, such as an OpenTelemetry Collector?"
            if flag in ("--grpc", "--http")
            else "by another process"
        )
        why = f"{addr} is already in use ({who}); stop it, or pass {flag} HOST:PORT with a free port"
    elif isinstance(e, OSError) and e.errno == errno.EADDRNOTAVAIL:
        why = f"{addr} is not an address of this machine"
    elif isinstance(e, OSError) and e.errno == errno.EACCES:
        why = f"{addr}: permission denied (ports below 1024 need privileges)"
    else:
        why = f"{addr}: {getattr(e, 'strerror', None) or e}"
    return ConfigError(f"cannot listen on {flag} {value}: {why}")


@functools.cache
def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False
