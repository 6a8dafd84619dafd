"""Who may send to costline: optional TLS and bearer-token auth on both receivers.

Off by default (receivers bind to localhost); a deployment that binds wider should turn
both on. The token is read from a file, never from flags or the config, so it does not
show in `ps` or in a checked-in YAML. Comparison is constant-time.
"""

from __future__ import annotations

import hmac
import ssl
from dataclasses import dataclass
from pathlib import Path

from costline_processor.config import ConfigError, ReceiveConfig
from costline_processor.receive.errors import Unauthenticated


@dataclass(frozen=True)
class ReceiverSecurity:
    token: bytes | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def check(self, authorization: str | None) -> None:
        """Raise Unauthenticated unless the Authorization value carries the token."""
        if self.token is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
            raise Unauthenticated("missing or wrong bearer token")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.cert_file:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def grpc_credentials(self):
        if not self.cert_file:
            return None
        import grpc

        key = Path(self.key_file).read_bytes()
        cert = Path(self.cert_file).read_bytes()
        return grpc.ssl_server_credentials([(key, cert)])


def load_security(cfg: ReceiveConfig) -> ReceiverSecurity:
    token = None
    if cfg.bearer_token_file:
        try:
            token = Path(cfg.bearer_token_file).read_text().strip().encode()
        except OSError as e:
            raise ConfigError(f"cannot read the bearer token file {cfg.bearer_token_file}: {e.strerror}") from None
        if not token:
            raise ConfigError(f"the bearer token file {cfg.bearer_token_file} is empty")
    if bool(cfg.tls_cert_file) != bool(cfg.tls_key_file):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    security = ReceiverSecurity(token, cfg.tls_cert_file, cfg.tls_key_file)
    if cfg.tls_cert_file:
        try:
            security.ssl_context()
        except (OSError, ssl.SSLError) as e:
            raise ConfigError(f"cannot load the TLS certificate and key: {e}") from None
    return security
