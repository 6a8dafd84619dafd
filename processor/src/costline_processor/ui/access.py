"""Who may see the page: the receivers' bearer token, or a session cookie made from it.

The page shows customer names, so with a token configured (`--bearer-token-file`, else the
config's `receive.bearer_token_file`: the same file the receivers read) every request must
carry either `Authorization: Bearer <token>` (scripts, curl) or the session cookie a browser
gets by posting the token to /login. The cookie holds HMAC-SHA256(token, "costline-ui-session"),
never the token; it is HttpOnly and SameSite=Strict, so page scripts cannot read it and other
sites cannot send it. Comparisons are constant-time. Without a token the page is open to whoever
can reach its address, which is localhost unless --listen says otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

COOKIE = "costline_session"
_SESSION_LABEL = b"costline-ui-session"


@dataclass(frozen=True)
class Access:
    token: bytes | None = None

    @property
    def open(self) -> bool:
        return self.token is None

    def session(self) -> str:
        """The cookie value a browser gets for the token."""
        assert self.token is not None
        return hmac.new(self.token, _SESSION_LABEL, hashlib.sha256).hexdigest()

    def allows(self, authorization: str | None, cookie: str | None) -> bool:
        """Whether a request with this Authorization header and session cookie may read the ledger."""
        if self.token is None:
            return True
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token):
            return True
        return bool(cookie) and hmac.compare_digest((cookie or "").encode(), self.session().encode())

    def accepts(self, token: str) -> bool:
        """Whether a token typed into the login form is the token."""
        return self.token is not None and hmac.compare_digest(token.strip().encode(), self.token)
