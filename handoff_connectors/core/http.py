"""What connectors share about talking HTTP with desks, and what the sidecar's server needs to stay up."""

from __future__ import annotations

import json
from typing import Any

import httpx

from sanic import Request
from sanic.exceptions import InvalidHeader
from sanic.handlers import ErrorHandler
from sanic.headers import parse_accept

from .contract import DeskError, WebhookRejected
from .text import repaired

# Answers that mean "not now" rather than "no": timeouts, conflicts while the
# desk settles, rate limits.
_TRY_AGAIN = frozenset({408, 409, 425, 429})


def is_retryable(status: int) -> bool:
    """Whether a desk's error status is worth another try later."""
    return status >= 500 or status in _TRY_AGAIN


def is_auth_failure(status: int) -> bool:
    """Whether a desk's error status says our credentials were refused."""
    return status in (401, 403)


async def desk_request(http: Any, method: str, url: str, *, what: str, **kwargs: Any) -> Any:
    """The desk's answer to one request (an httpx.Response, whatever its status).

    A desk that cannot be reached, or does not answer in time, is a
    `DeskError` the core retries; its message is `what` and the kind of
    failure, never the error's text, which may carry a URL with a secret.
    """
    try:
        return await http.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        raise DeskError(f"{what}: {type(error).__name__}", retryable=True) from None


def answer_object(response: Any) -> dict:
    """The JSON object a desk answered with; {} when the answer is empty, not JSON, or not an object.

    `response` is an httpx.Response (anything with `.json()`).
    """
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def json_object(body: bytes) -> dict:
    """A webhook body that must be a JSON object; a 400 rejection otherwise.

    Its strings come repaired (see `text`), so half an emoji cannot block a
    queue further on.
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(400, "body is not JSON") from None
    except RecursionError:
        raise WebhookRejected(400, "body nests too deep") from None
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    try:
        return repaired(payload)
    except RecursionError:
        raise WebhookRejected(400, "body nests too deep") from None


class TolerantErrorHandler(ErrorHandler):
    """Sanic's error pages, also for a request whose Accept header Sanic cannot parse.

    Sanic picks an error page's format from the Accept header even when the
    format is fixed (FALLBACK_ERROR_FORMAT), so `Accept: \xff` or `*/*;q=x`
    turns every error it answers itself (404, 405, 413...) into "500 An
    error occurred while handling an error". Such a header is read as */*.
    Install it on the app: `Sanic(name, error_handler=TolerantErrorHandler())`.
    """

    def default(self, request: Request, exception: Exception) -> Any:
        try:
            request.accept  # parsed here once and kept, where a header it cannot parse is still ours to catch
        except InvalidHeader:
            request.parsed_accept = parse_accept("*/*")
        return super().default(request, exception)
