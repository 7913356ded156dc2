"""A thin client for the three Twilio APIs a Flex handoff uses: Conversations, Flex (Interactions), TaskRouter.

Twilio's REST APIs take form-encoded bodies (`application/x-www-form-urlencoded`;
a list is a repeated field, JSON objects go as JSON strings) and HTTP Basic
auth: the account SID and auth token, or an API key's SID and secret.
Failures become `DeskError`: retryable for timeouts, network errors, 5xx and
429; `auth` for 401/403. Messages name the call, the status and Twilio's
error code, never a credential or a body.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union
from urllib.parse import quote

import httpx

from ..core.contract import DeskError
from ..core.http import answer_object, desk_request, is_auth_failure, is_retryable

Form = Mapping[str, Union[str, Sequence[str]]]


class TwilioError(DeskError):
    """Twilio answered with an error status; `status` and Twilio's `code` kept for the caller to act on."""

    def __init__(self, message: str, *, status: int, code: Optional[int], retryable: bool, auth: bool) -> None:
        super().__init__(message, retryable=retryable, auth=auth)
        self.status = status
        self.code = code


class TwilioAPI:
    def __init__(self, username: str, password: str, timeout: float, http: Optional[httpx.AsyncClient] = None) -> None:
        self._http = http or httpx.AsyncClient(timeout=timeout, auth=httpx.BasicAuth(username, password))

    async def call(self, method: str, url: str, form: Optional[Form] = None, query: Optional[Form] = None) -> dict[str, Any]:
        """The JSON answer of a successful call to `url` (an empty dict when it has none)."""
        where = url.split("://", 1)[-1].split("/", 1)[-1]
        response = await desk_request(
            self._http, method, url, what=f"Twilio {method} /{where}",
            data={k: v for k, v in (form or {}).items() if v is not None} or None, params=query,
        )
        answer = _json(response)
        if response.is_success:
            return answer
        code = answer.get("code") if isinstance(answer.get("code"), int) else None
        status = response.status_code
        raise TwilioError(
            f"Twilio {method} /{where} answered {status}" + (f" (error {code})" if code else ""),
            status=status, code=code, retryable=is_retryable(status), auth=is_auth_failure(status),
        )

    async def aclose(self) -> None:
        await self._http.aclose()


def segment(value: str) -> str:
    """An id as one URL path segment: an id from a webhook never reaches another path."""
    return quote(str(value), safe="")


def _json(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; Twilio's errors are `{"code": 20404, "message": ..., "status": 404}`."""
    return answer_object(response)
