"""A thin client for CXone: our OAuth token (client credentials) and the Digital (DFO 3.0) API.

Failures become `DeskError`: retryable for timeouts, network errors, 5xx and
408/409/425/429; `auth` for 401/403, and for the token endpoint's refusals
of the client (RFC 6749 `invalid_client`, `unauthorized_client`,
`invalid_grant`, whatever the status). Messages name the call and the
status, never a token, a secret or a body.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import httpx

from ..core.contract import DeskError, IssuedToken
from ..core.http import desk_request, is_auth_failure, is_retryable
from . import wire

# A token answer without `expires_in` is taken to last this long (seconds).
DEFAULT_TOKEN_LIFETIME = 300
_REFUSED_CLIENT = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})


class CXoneAPI:
    def __init__(
        self, api_url: str, auth_url: str, client_id: str, client_secret: str, timeout: float,
        http: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.auth_url = auth_url
        self._client = (client_id, client_secret)
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def fetch_token(self) -> IssuedToken:
        headers, form = wire.token_request(*self._client)
        response = await desk_request(
            self._http, "POST", self.auth_url, what="CXone token request",
            data=form, headers=headers,
        )
        status = response.status_code
        answer = _json(response)
        if status >= 300:
            refused = isinstance(answer, dict) and answer.get("error") in _REFUSED_CLIENT
            raise DeskError(
                f"CXone token request answered {status}" + (f" ({answer['error']})" if refused else ""),
                retryable=is_retryable(status) and not refused,
                auth=is_auth_failure(status) or refused,
            )
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise DeskError("CXone token request answered without an access_token", retryable=True)
        lifetime = answer.get("expires_in")
        if not isinstance(lifetime, (int, float)) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        return IssuedToken(value=token, expires_at=time.time() + float(lifetime))

    async def call(self, method: str, path: str, token: str, body: Optional[dict[str, Any]] = None) -> Any:
        """The JSON answer of a successful call (None when it has none)."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        response = await desk_request(
            self._http, method, self.api_url + path, what=f"CXone {method} {path}",
            json=body, headers=headers,
        )
        status = response.status_code
        if status >= 300:
            raise DeskError(
                f"CXone {method} {path} answered {status}", retryable=is_retryable(status), auth=is_auth_failure(status)
            )
        return _json(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
