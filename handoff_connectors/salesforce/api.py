"""A thin client for Salesforce's Messaging API v2 (Messaging for In-App and Web), as the end user.

Every call but the token call carries the conversation's own access token
(`Authorization: Bearer <Messaging JWT>`) and JSON. Failures become
`DeskError`: retryable for timeouts, network errors, 5xx and 408/409/425/429;
`auth` for 401/403. Messages name the call and the status, never a token or
a body. The server-sent-event stream is read here too (`events`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Optional

import httpx

from ..core.contract import DeskError
from ..core.http import answer_object, desk_request, is_auth_failure, is_retryable
from .settings import SalesforceSettings
from .sse import ServerEvent, SseParser

TOKEN_PATH = "/iamessage/api/v2/authorization/unauthenticated/access-token"
CONTINUATION_PATH = "/iamessage/api/v2/authorization/continuation-access-token"
CONVERSATION_PATH = "/iamessage/api/v2/conversation"
SSE_PATH = "/eventrouter/v1/sse"
# What the public sample client sends with a token request.
CAPABILITIES_VERSION = "1"
PLATFORM = "Web"


@dataclass(frozen=True)
class Issued:
    """An access token, when it expires (epoch seconds), and the stream position it was issued at."""

    token: str
    expires_at: float
    last_event_id: Optional[str] = None


def jwt_expiry(token: str) -> Optional[float]:
    """The `exp` claim of a JWT (read, not verified: only Salesforce checks it), or None."""
    parts = token.split(".")
    if len(parts) < 2:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


class MiawAPI:
    def __init__(
        self, settings: SalesforceSettings, http: Optional[httpx.AsyncClient] = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.base_url = settings.messaging_url
        self._http = http or httpx.AsyncClient(timeout=settings.timeout)
        self._clock = clock

    def _issued(self, answer: dict[str, Any], what: str) -> Issued:
        token = answer.get("accessToken")
        if not isinstance(token, str) or not token:
            raise DeskError(f"Salesforce {what} answered without an accessToken", retryable=False)
        expires_at = jwt_expiry(token) or self._clock() + self.settings.token_lifetime
        last = answer.get("lastEventId")
        return Issued(token, expires_at, str(last) if last not in (None, "") else None)

    async def new_token(self) -> Issued:
        """An unauthenticated access token: a new anonymous end user (one per handoff)."""
        body = {
            "orgId": self.settings.org_id,
            "esDeveloperName": self.settings.deployment,
            "capabilitiesVersion": CAPABILITIES_VERSION,
            "platform": PLATFORM,
        }
        return self._issued(await self.call("POST", TOKEN_PATH, None, body), "access-token")

    async def continued_token(self, token: str) -> Issued:
        """A fresh token for the same end user, from a still valid one."""
        return self._issued(await self.call("GET", CONTINUATION_PATH, token), "continuation-access-token")

    async def call(
        self, method: str, path: str, token: Optional[str], body: Optional[dict[str, Any]] = None,
        query: Optional[dict[str, str]] = None,
    ) -> dict[str, Any]:
        """The JSON answer of a successful call (an empty dict when it has none)."""
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = await desk_request(
            self._http, method, self.base_url + path, what=f"Salesforce {method} {_shown(path)}",
            content=None if body is None else json.dumps(body), headers=headers, params=query,
        )
        _raise_for(response, method, path)
        return answer_object(response)

    async def events(self, token: str, last_event_id: Optional[str], until: float) -> AsyncIterator[ServerEvent]:
        """The stream's events after `last_event_id`, until it drops, goes silent, or `until` (epoch s).

        Raises `DeskError` when the stream cannot be opened; a stream that
        breaks after opening just ends (the caller reopens it from its last id).
        """
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Org-ID": self.settings.org_id,
            "Accept": "text/event-stream",
            "Cache-Control": "no-cache",
        }
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(self.settings.timeout, read=None)
        try:
            async with self._http.stream("GET", self.base_url + SSE_PATH, headers=headers, timeout=timeout) as response:
                if response.status_code >= 300:
                    await response.aread()
                    _raise_for(response, "GET", SSE_PATH)
                parser = SseParser()
                lines = response.aiter_lines()
                while True:
                    left = until - self._clock()
                    if left <= 0:
                        return
                    try:
                        line = await asyncio.wait_for(lines.__anext__(), min(left, self.settings.stream_heartbeat))
                    except (StopAsyncIteration, asyncio.TimeoutError):
                        return
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except httpx.HTTPError as error:
            if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)):
                raise DeskError(f"Salesforce GET {SSE_PATH}: {type(error).__name__}", retryable=True) from None
            return  # Dropped mid-stream: the caller reopens it from the last id it saw.

    async def aclose(self) -> None:
        await self._http.aclose()


def _raise_for(response: httpx.Response, method: str, path: str) -> None:
    status = response.status_code
    if status >= 300:
        raise DeskError(
            f"Salesforce {method} {_shown(path)} answered {status}",
            retryable=is_retryable(status),
            auth=is_auth_failure(status),
        )


def _shown(path: str) -> str:
    # A conversation id says nothing secret, but keep lines short and uniform.
    return path if len(path) <= 120 else path[:117] + "..."
