"""A thin client for the LiveChat APIs v3.5 the connector uses.

- Agent Chat Web API: `POST {api_url}/agent/action/<action>`, JSON, the
  Personal Access Token in the Basic scheme (`account_id:token`), and
  `X-Author-Id: <bot id>` when the bot agent is the author.
- Customer Chat Web API: `POST {api_url}/customer/action/<action>?organization_id=...`,
  JSON (multipart for `upload_file`), `Authorization: Bearer <customer token>`.
- Customer tokens: `POST {accounts_url}/v2/customer/token`, the agent token
  grant, authorised with the same Personal Access Token.

Failures become `DeskError`: retryable for network errors, timeouts, 5xx,
408/409/425/429; `auth` for 401/403. Messages name the action, the status
and LiveChat's error type, never a token or a body.
"""

from __future__ import annotations

import base64
from typing import Any, Optional

import httpx

from ..core.contract import DeskError
from ..core.http import desk_request, is_auth_failure, is_retryable


class LiveChatError(DeskError):
    """LiveChat refused a call; `error_type` is its `error.type` (e.g. `chat_inactive`)."""

    def __init__(self, message: str, *, status: int, error_type: str, retryable: bool, auth: bool) -> None:
        super().__init__(message, retryable=retryable, auth=auth)
        self.status = status
        self.error_type = error_type


class LiveChatAPI:
    def __init__(
        self,
        api_url: str,
        accounts_url: str,
        organization_id: str,
        client_id: str,
        account_id: str,
        token: str,
        timeout: float,
        http: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.accounts_url = accounts_url.rstrip("/")
        self.organization_id = organization_id
        self.client_id = client_id
        self._http = http or httpx.AsyncClient(timeout=timeout)
        basic = base64.b64encode(f"{account_id}:{token}".encode()).decode()
        self._agent_auth = f"Basic {basic}"

    # -- the three kinds of call -------------------------------------------------

    async def agent(self, action: str, body: dict[str, Any], author_id: Optional[str] = None) -> Any:
        headers = {"Authorization": self._agent_auth}
        if author_id:
            headers["X-Author-Id"] = author_id
        return await self._post(f"agent {action}", f"{self.api_url}/agent/action/{action}", headers, json=body)

    async def customer(self, action: str, token: str, body: dict[str, Any]) -> Any:
        return await self._post(
            f"customer {action}",
            f"{self.api_url}/customer/action/{action}",
            {"Authorization": f"Bearer {token}"},
            json=body,
            params={"organization_id": self.organization_id},
        )

    async def customer_upload(self, token: str, name: str, content: bytes, content_type: str) -> Any:
        return await self._post(
            "customer upload_file",
            f"{self.api_url}/customer/action/upload_file",
            {"Authorization": f"Bearer {token}"},
            files={"file": (name, content, content_type)},
            params={"organization_id": self.organization_id},
        )

    async def customer_token(self, customer_id: Optional[str] = None) -> dict[str, Any]:
        """A customer access token (agent token grant): a new customer, or `customer_id`'s."""
        body = {
            "grant_type": "agent_token",
            "client_id": self.client_id,
            "response_type": "token",
            "organization_id": self.organization_id,
        }
        if customer_id:
            body["customer_id"] = customer_id
        answer = await self._post(
            "customer token", f"{self.accounts_url}/v2/customer/token", {"Authorization": self._agent_auth}, json=body
        )
        if not isinstance(answer, dict) or not answer.get("access_token") or not answer.get("entity_id"):
            raise DeskError("LiveChat customer token answered without access_token/entity_id", retryable=False)
        return answer

    async def _post(self, what: str, url: str, headers: dict[str, str], **kwargs: Any) -> Any:
        response = await desk_request(self._http, "POST", url, what=f"LiveChat {what}", headers=headers, **kwargs)
        status = response.status_code
        if status >= 300:
            error_type = _error_type(response)
            raise LiveChatError(
                f"LiveChat {what} answered {status}" + (f" ({error_type})" if error_type else ""),
                status=status,
                error_type=error_type,
                retryable=is_retryable(status),
                auth=is_auth_failure(status),
            )
        try:
            return response.json()
        except ValueError:
            return {}

    async def fetch(self, url: str, limit: int) -> Optional[tuple[bytes, str]]:
        """A user's file (content, type) to upload, or None when it cannot be had within `limit` bytes."""
        try:
            async with self._http.stream("GET", url, follow_redirects=True) as response:
                if response.status_code != 200:
                    return None
                content = b""
                async for chunk in response.aiter_bytes():
                    content += chunk
                    if len(content) > limit:
                        return None
                return content, response.headers.get("content-type", "application/octet-stream").split(";")[0]
        except (httpx.HTTPError, ValueError):
            return None

    async def aclose(self) -> None:
        await self._http.aclose()


def _error_type(response: httpx.Response) -> str:
    # LiveChat's errors: {"error": {"type": "chat_inactive", "message": "..."}}
    try:
        kind = response.json()["error"]["type"]
    except (ValueError, KeyError, TypeError):
        return ""
    return kind if isinstance(kind, str) and kind.isprintable() and len(kind) < 60 else ""
