"""A thin client for the Sunshine Conversations API v2, as the spec's `basicAuth` scheme asks.

Every call authenticates with the app's API key (the key id as the user
name, the secret as the password) and sends JSON. Failures become
`DeskError`: retryable for timeouts, network errors, 5xx, 409 and 429;
`auth` for 401/403. Messages name the call, the status and Sunshine's
error code (`errors[0].code`), never the key or a request body.
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import quote

import httpx

from ..core.contract import DeskError
from ..core.http import answer_object, desk_request, is_auth_failure, is_retryable


class SunshineError(DeskError):
    """Sunshine answered with an error status (kept in `status` for the caller to act on)."""

    def __init__(self, message: str, *, status: int, retryable: bool, auth: bool) -> None:
        super().__init__(message, retryable=retryable, auth=auth)
        self.status = status


def segment(value: str) -> str:
    """An id as one URL path segment: an id read from a webhook never reaches another path."""
    return quote(str(value), safe="")


class SunshineAPI:
    def __init__(self, base_url: str, app_id: str, key_id: str, secret: str, timeout: float,
                 http: Optional[httpx.AsyncClient] = None) -> None:
        self.app_path = f"/v2/apps/{segment(app_id)}"
        self._base = base_url.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=timeout, auth=httpx.BasicAuth(key_id, secret))
        self._headers = {"Accept": "application/json"}

    async def call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """The JSON answer of a call under the app (`path` after /v2/apps/{appId}); {} when it has none."""
        where = self.app_path + path
        response = await desk_request(
            self._http, method, self._base + where, what=f"Sunshine {method} {path or '/'}",
            json=body, headers=self._headers,
        )
        status = response.status_code
        if status >= 300:
            raise SunshineError(
                f"Sunshine {method} {path or '/'} answered {status}{_error_code(response)}",
                status=status,
                retryable=is_retryable(status),
                auth=is_auth_failure(status),
            )
        return answer_object(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _error_code(response: httpx.Response) -> str:
    # {"errors": [{"code": "unauthorized", "title": "..."}]}
    try:
        code = response.json()["errors"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
    return f" ({code})" if isinstance(code, str) and code.isprintable() and len(code) < 80 else ""
