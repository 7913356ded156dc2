"""A small HTTP client for Chatwoot's REST API, and for desks that speak the same API.

The client knows nothing of paths or credentials: the connector gives it the
base URL and the headers that carry the credential (Chatwoot's
`api_access_token`, LiveDesk's Basic key:secret). Failures become
`DeskError`s that name the call and the status, never a header or a body.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import httpx

from ..core.contract import DeskError
from ..core.http import desk_request, is_auth_failure, is_retryable


class DeskAPIError(DeskError):
    """The desk answered with an error status (kept in `status`, for callers that act on a 404 or 422)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, retryable=is_retryable(status), auth=is_auth_failure(status))
        self.status = status


class DeskAPI:
    def __init__(
        self,
        desk: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        http: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self.desk = desk
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json", **headers}
        self._http = http or httpx.AsyncClient(timeout=timeout)

    async def call(
        self,
        method: str,
        path: str,
        body: Optional[dict[str, Any]] = None,
        params: Optional[Mapping[str, str]] = None,
    ) -> Any:
        """The decoded JSON answer of a successful call ({} when it has none)."""
        response = await desk_request(
            self._http, method, self.base_url + path, what=f"{self.desk} {method} {path}",
            json=body, params=params, headers=self._headers,
        )
        status = response.status_code
        if status >= 300:
            raise DeskAPIError(f"{self.desk} {method} {path} answered {status}", status=status)
        try:
            return response.json()
        except ValueError:
            return {}

    async def aclose(self) -> None:
        await self._http.aclose()
