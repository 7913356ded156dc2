"""A thin client for the Genesys Cloud Platform API: the OAuth token and the calls the connector makes.

Tokens come from `POST https://login.<region>/oauth/token` (client
credentials, HTTP Basic with the client id and secret); every API call
carries `Authorization: Bearer <token>`. Failures become `DeskError`:
retryable for timeouts, network errors, 5xx and 429; `auth` for 401/403.
Messages name the call and the status, never a token, a secret or a body.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import httpx

from ..core.contract import DeskError, IssuedToken
from ..core.http import answer_object, desk_request, is_auth_failure, is_retryable

TOKEN_PATH = "/oauth/token"


def _failure(what: str, status: int) -> DeskError:
    return DeskError(f"Genesys {what} answered {status}", retryable=is_retryable(status), auth=is_auth_failure(status))


class GenesysAPI:
    def __init__(self, login_base: str, api_base: str, client_id: str, client_secret: str, timeout: float,
                 http: Optional[httpx.AsyncClient] = None) -> None:
        self.login_base = login_base.rstrip("/")
        self.api_base = api_base.rstrip("/")
        self._client = (client_id, client_secret)
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def fetch_token(self) -> IssuedToken:
        """A new access token (client credentials grant)."""
        response = await desk_request(
            self._http, "POST", self.login_base + TOKEN_PATH, what=f"Genesys POST {TOKEN_PATH}",
            data={"grant_type": "client_credentials"}, auth=httpx.BasicAuth(*self._client),
            headers={"Accept": "application/json"},
        )
        if response.status_code >= 300:
            # invalid_client (a revoked or wrong client) is 400 or 401: both mean our credentials.
            status = response.status_code
            refused = status in (400, 401, 403)
            raise DeskError(f"Genesys POST {TOKEN_PATH} answered {status}", retryable=is_retryable(status), auth=refused)
        try:
            answer = response.json()
            token = answer["access_token"]
            lifetime = float(answer.get("expires_in") or 0)
        except (ValueError, KeyError, TypeError):
            raise DeskError(f"Genesys POST {TOKEN_PATH} answered without an access_token", retryable=True) from None
        if not isinstance(token, str) or not token:
            raise DeskError(f"Genesys POST {TOKEN_PATH} answered without an access_token", retryable=True)
        return IssuedToken(value=token, expires_at=time.time() + (lifetime if lifetime > 0 else 3600.0))

    async def call(self, token: str, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """The JSON answer of a successful API call (an empty dict when it has none)."""
        response = await desk_request(
            self._http, method, self.api_base + path, what=f"Genesys {method} {path}",
            json=body, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        if response.status_code >= 300:
            raise _failure(f"{method} {path}", response.status_code)
        return answer_object(response)

    async def aclose(self) -> None:
        await self._http.aclose()
