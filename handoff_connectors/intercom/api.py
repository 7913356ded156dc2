"""A thin client for the Intercom REST API, version 2.14.

Every call carries the bearer token and `Intercom-Version: 2.14`. Failures
become `DeskError`: retryable for timeouts, network errors, 5xx and 429;
`auth` for 401/403. Messages name the call, the status and Intercom's error
code, never the token or a request body.
"""

from __future__ import annotations

from typing import Any, Optional

import httpx

from ..core.contract import DeskError
from ..core.http import answer_object, desk_request, is_auth_failure, is_retryable

INTERCOM_VERSION = "2.14"

REGIONS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}

class IntercomError(DeskError):
    """Intercom answered a call with an error status.

    `detail` holds Intercom's own error messages (for the caller to act on,
    e.g. the id in a 409 conflict); it is kept out of the exception's text.
    """

    def __init__(self, message: str, *, status: int, detail: str, retryable: bool, auth: bool) -> None:
        super().__init__(message, retryable=retryable, auth=auth)
        self.status = status
        self.detail = detail


class IntercomAPI:
    def __init__(self, base_url: str, token: str, timeout: float, http: Optional[httpx.AsyncClient] = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Intercom-Version": INTERCOM_VERSION,
            "Accept": "application/json",
        }

    async def call(self, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """The JSON answer of a successful call (an empty dict when it has none)."""
        response = await desk_request(
            self._http, method, self.base_url + path, what=f"Intercom {method} {path}",
            json=body, headers=self._headers,
        )
        status = response.status_code
        if status >= 300:
            raise IntercomError(
                f"Intercom {method} {path} answered {status}{_error_code(response)}",
                status=status,
                detail=_error_messages(response),
                retryable=is_retryable(status),
                auth=is_auth_failure(status),
            )
        return answer_object(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _error_code(response: httpx.Response) -> str:
    # Intercom's error.list: {"type": "error.list", "errors": [{"code": ..., "message": ...}]}
    try:
        errors = response.json().get("errors") or []
        code = errors[0].get("code")
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""
    return f" ({code})" if isinstance(code, str) and code.isprintable() and len(code) < 80 else ""


def _error_messages(response: httpx.Response) -> str:
    try:
        errors = response.json().get("errors") or []
        return " ".join(str(e.get("message") or "") for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, TypeError):
        return ""
