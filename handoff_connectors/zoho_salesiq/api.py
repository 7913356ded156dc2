"""A thin client for Zoho accounts (OAuth 2.0 refresh) and the SalesIQ REST API v2.

Tokens: `POST {accounts}/oauth/v2/token` with `grant_type=refresh_token`, the
client id and secret and the refresh token, form-encoded in the body (never
in the URL, where proxies log it). Zoho answers a refused refresh token with
HTTP 200 and `{"error": "invalid_code"}`: that is an auth failure.

Calls carry `Authorization: Zoho-oauthtoken <access token>`. SalesIQ answers
errors either with an error status or with HTTP 200 and
`{"error": {"code", "message"}}`: both become `DeskError` (retryable for
timeouts, network errors, 5xx and 429; `auth` for 401/403 and for an error
about the OAuth token). Messages name the call and the status or code, never
a token or a body.
"""

from __future__ import annotations

import time
from typing import Any, Optional
from urllib.parse import quote

import httpx

from ..core.contract import DeskError, IssuedToken
from ..core.http import answer_object, desk_request, is_auth_failure, is_retryable

# Zoho issues access tokens for an hour; when it does not say, assume less.
DEFAULT_LIFETIME = 3000.0
_AUTH_WORDS = ("oauth", "token", "unauthori", "scope")


def segment(value: str) -> str:
    """An id as one URL path segment."""
    return quote(str(value), safe="")


class SalesIQAPI:
    def __init__(
        self,
        accounts_url: str,
        api_url: str,
        screen_name: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: float,
        http: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self.accounts_url = accounts_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.screen_name = screen_name
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def fetch_token(self) -> IssuedToken:
        """A new access token from the refresh token."""
        form = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
        }
        response = await desk_request(
            self._http, "POST", self.accounts_url + "/oauth/v2/token", what="Zoho accounts token refresh",
            data=form,
        )
        status = response.status_code
        if status >= 300:
            raise DeskError(
                f"Zoho accounts token refresh answered {status}", retryable=is_retryable(status), auth=is_auth_failure(status)
            )
        answer = _json(response)
        error = answer.get("error")
        if error is not None:
            code = error if isinstance(error, str) and error.isprintable() and len(error) < 60 else "error"
            # invalid_code (revoked or wrong refresh token), invalid_client: our credentials are refused.
            raise DeskError(f"Zoho accounts refused the refresh token ({code})", retryable=False, auth=True)
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise DeskError("Zoho accounts answered without an access_token", retryable=True)
        lifetime = answer.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, (int, float)) and lifetime > 0 else DEFAULT_LIFETIME
        return IssuedToken(value=token, expires_at=time.time() + seconds)

    async def call(self, token: str, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """`data` of a successful answer (an empty dict when it has none)."""
        headers = {"Authorization": f"Zoho-oauthtoken {token}", "Accept": "application/json"}
        response = await desk_request(
            self._http, method, self.api_url + path, what=f"SalesIQ {method} {_shown(path)}",
            json=body, headers=headers,
        )
        status = response.status_code
        answer = _json(response)
        error = answer.get("error")
        if status >= 300:
            raise DeskError(
                f"SalesIQ {method} {_shown(path)} answered {status}{_code(error)}",
                retryable=is_retryable(status),
                auth=is_auth_failure(status),
            )
        if error is not None:
            # SalesIQ's errors come with HTTP 200 too.
            raise DeskError(f"SalesIQ {method} {_shown(path)} answered error{_code(error)}", retryable=False, auth=_about_auth(error))
        data = answer.get("data")
        return data if isinstance(data, dict) else {"items": data} if isinstance(data, list) else {}

    async def aclose(self) -> None:
        await self._http.aclose()


def _json(response: httpx.Response) -> dict[str, Any]:
    return answer_object(response)


def _code(error: Any) -> str:
    code = error.get("code") if isinstance(error, dict) else None
    return f" ({code})" if isinstance(code, (int, str)) and str(code).isprintable() and len(str(code)) < 40 else ""


def _about_auth(error: Any) -> bool:
    if not isinstance(error, dict):
        return False
    said = f"{error.get('code', '')} {error.get('message', '')}".lower()
    return any(word in said for word in _AUTH_WORDS)


def _shown(path: str) -> str:
    # The screen name and ids are not secrets, but keep log lines short.
    return path if len(path) < 120 else path[:117] + "..."
