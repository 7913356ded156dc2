"""A thin client for Sobot's open platform (v5): the token call and the business calls.

Sobot answers most refusals with HTTP 200 and a `ret_code` other than
"000000": a refused or expired token (the `token_error_codes` setting) is an
auth failure like a 401, so the shared token is refreshed and the call tried
once more; any other code is a refusal for good. HTTP errors map as for
every desk (`is_retryable`, `is_auth_failure`). Messages name the call and
the code, never the token, the key or a body.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

import httpx

from ..core.contract import DeskError, IssuedToken
from ..core.http import desk_request, is_auth_failure, is_retryable
from . import wire

HOSTS = {
    "cn": "https://www.sobot.com",
    "sg": "https://sg.sobot.io",
    "us": "https://us.sobot.com",
}
# Sobot says 86400 s; a token answered without a readable lifetime is kept this long.
DEFAULT_LIFETIME = 86400.0


class SobotAPI:
    def __init__(
        self,
        base_url: str,
        appid: str,
        app_key: str,
        token_error_codes: tuple[str, ...],
        timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._appid = appid
        self._app_key = app_key
        self._auth_codes = frozenset(token_error_codes)
        self._clock = clock
        self._http = httpx.AsyncClient(timeout=timeout)

    async def fetch_token(self) -> IssuedToken:
        """A new token (Sobot issues one on every call, and the previous one stops working)."""
        create_time = str(int(self._clock()))
        params = {
            "appid": self._appid,
            "create_time": create_time,
            "sign": wire.token_sign(self._appid, create_time, self._app_key),
        }
        answer = await self._request("GET", wire.TOKEN_PATH, params=params)
        item = answer.get("item") if isinstance(answer.get("item"), dict) else {}
        token = item.get("token")
        if not isinstance(token, str) or not token:
            raise DeskError("Sobot get_token answered without a token", retryable=False)
        try:
            lifetime = float(item.get("expires_in"))
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME
        return IssuedToken(value=token, expires_at=self._clock() + max(lifetime, 0.0))

    async def call(self, token: str, method: str, path: str, body: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """A business call with the token; its answer's `item` (an empty dict when it has none)."""
        answer = await self._request(method, path, json=body, headers={"token": token})
        item = answer.get("item")
        return item if isinstance(item, dict) else {"items": item} if isinstance(item, list) else {}

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await desk_request(self._http, method, self.base_url + path, what=f"Sobot {method} {path}", **kwargs)
        status = response.status_code
        if status >= 300:
            raise DeskError(
                f"Sobot {method} {path} answered {status}", retryable=is_retryable(status), auth=is_auth_failure(status)
            )
        try:
            answer = response.json()
        except ValueError:
            raise DeskError(f"Sobot {method} {path} answered no JSON", retryable=True) from None
        if not isinstance(answer, dict):
            raise DeskError(f"Sobot {method} {path} answered no JSON object", retryable=True)
        code = str(answer.get("ret_code", ""))
        if code != wire.SUCCESS:
            shown = code if code.isalnum() and len(code) <= 12 else "?"
            auth = code in self._auth_codes
            raise DeskError(f"Sobot {method} {path} answered ret_code {shown}", retryable=False, auth=auth)
        return answer

    async def aclose(self) -> None:
        await self._http.aclose()
