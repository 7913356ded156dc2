"""Log lines a production deployment can ship: text or JSON lines, never a secret.

Why JSON lines: log pipelines (Loki, Elasticsearch, CloudWatch) index fields.
One JSON object per line, carrying the handoff and sender ids, lets an
operator follow one conversation across the action server and the sidecar.

Why contextvars: each delivery runs in its own asyncio task. Binding the ids
in the task's context (`log_context`, `bind`) tags every line logged beneath
it, connectors' lines included, without passing ids through every call; and a
binding in one task never leaks into another.

Why redaction in the formatter: secrets reach log lines in ways no review
catches (an exception quoting a URL with `?token=`, a desk echoing a header).
The formatter is the last step before a line leaves the process, so it masks
every configured secret there, in the spellings a secret takes inside a line
(as is, JSON-escaped, URL-encoded, repr'd), and token-like patterns besides.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import os
import re
import sys
import threading
from typing import IO, Any, Iterable, Iterator, Literal, Mapping, Optional, Union
from urllib.parse import quote, quote_plus, unquote, urlsplit

from pydantic import BaseModel, SecretBytes, SecretStr

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[str, ...] = ("text", "json")
LOG_FORMAT_ENV = "HANDOFF_LOG_FORMAT"
LOG_LEVEL_ENV = "HANDOFF_LOG_LEVEL"
# The loggers of the handoff code; in the action server only these are ours to format.
HANDOFF_LOGGERS: tuple[str, ...] = ("handoff_connectors", "rasa_handoff_actions")
CONTEXT_FIELDS: tuple[str, ...] = ("handoff_id", "sender_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
# A secret shorter than this is masked only where it stands as a whole word:
# masking every "k" of every line would make the log unreadable and hide nothing.
MIN_SUBSTRING_SECRET = 4

_fields: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("handoff_log_fields", default={})

# key=value in URLs and messages; "key": "value" in reprs and JSON; HTTP auth headers.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(?i)\b((?:[a-z0-9_-]*token|api[_-]?key|password|passwd|[a-z_]*secret|signature)=)[^\s&\"',;)}\]]+"
    ),
    re.compile(
        r"(?i)(['\"](?:[a-z0-9_-]*token|api[_-]?key|password|passwd|[a-z_]*secret|authorization)['\"]\s*:\s*['\"])"
        r"[^'\"]+"
    ),
    re.compile(r"(?i)\b(authorization\s*[:=]\s*['\"]?(?:bearer|basic|token)\s+)[^\s'\",;]+"),
    re.compile(r"\b(Bearer\s+)[^\s'\",;]+"),
)


# -- context ---------------------------------------------------------------------------


def current_context() -> dict[str, str]:
    return dict(_fields.get())


def bind(handoff_id: Optional[str] = None, sender_id: Optional[str] = None) -> contextvars.Token:
    """Tag every later line of this task (and of tasks it starts). `unbind(token)` undoes it."""
    given = {"handoff_id": handoff_id, "sender_id": sender_id}
    merged = {**_fields.get(), **{key: str(value) for key, value in given.items() if value is not None}}
    return _fields.set(merged)


def unbind(token: contextvars.Token) -> None:
    _fields.reset(token)


@contextlib.contextmanager
def log_context(handoff_id: Optional[str] = None, sender_id: Optional[str] = None) -> Iterator[None]:
    """Tag every line logged inside the block; the previous tags come back after it."""
    token = bind(handoff_id=handoff_id, sender_id=sender_id)
    try:
        yield
    finally:
        unbind(token)


def _context_of(record: logging.LogRecord) -> dict[str, str]:
    """The bound ids, overridden by any given with `extra=` on the call itself."""
    fields = current_context()
    for name in CONTEXT_FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            fields[name] = str(value)
    return fields


# -- redaction --------------------------------------------------------------------------


def _spellings(secret: str) -> set[str]:
    """The ways a secret can appear inside a log line."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return {form for form in forms if form}


class Redactor:
    """Masks known secrets and token-like patterns in a piece of text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._substrings: tuple[str, ...] = ()
        self._words: Optional[re.Pattern[str]] = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        new = {secret for secret in secrets if secret and secret.strip()}
        with self._lock:
            known = self._secrets | new
            spellings = {form for secret in known for form in _spellings(secret)}
            long_forms = {form for form in spellings if len(form) >= MIN_SUBSTRING_SECRET}
            short_forms = spellings - long_forms
            # Longest first, so a secret that contains another is masked whole.
            self._substrings = tuple(sorted(long_forms, key=len, reverse=True))
            self._words = _whole_words(short_forms)
            self._secrets = known

    def __call__(self, text: str) -> str:
        for form in self._substrings:
            if form in text:
                text = text.replace(form, MASK)
        if self._words is not None:
            text = self._words.sub(MASK, text)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda match: match.group(1) + MASK, text)
        return text


def _whole_words(forms: set[str]) -> Optional[re.Pattern[str]]:
    if not forms:
        return None
    alternatives = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")


_redactor = Redactor()


def add_secrets(secrets: Iterable[str]) -> None:
    """Mask these too from now on, in every handler this module installed."""
    _redactor.add(secrets)


def redact(text: str) -> str:
    """`text` as a log line would show it: configured secrets and token patterns masked."""
    return _redactor(text)


def secret_values(node: Any) -> list[str]:
    """Every SecretStr/SecretBytes value inside a pydantic model (nested models, dicts, lists).

    A secret URL (`redis://:password@host`) also gives its password alone: a client's
    error message may quote the password without the rest of the URL.
    """
    found: list[str] = []
    _collect_secrets(node, found)
    with_parts = [part for value in found for part in (value, _url_password(value))]
    return list(dict.fromkeys(value for value in with_parts if value))


def _url_password(value: str) -> Optional[str]:
    if "://" not in value:
        return None
    try:
        password = urlsplit(value).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _collect_secrets(node: Any, found: list[str]) -> None:
    if isinstance(node, SecretStr):
        found.append(node.get_secret_value())
    elif isinstance(node, SecretBytes):
        found.append(node.get_secret_value().decode("utf-8", "replace"))
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            _collect_secrets(getattr(node, name), found)
    elif isinstance(node, Mapping):
        for value in node.values():
            _collect_secrets(value, found)
    elif isinstance(node, (list, tuple, set, frozenset)):
        for value in node:
            _collect_secrets(value, found)


# -- formatters ---------------------------------------------------------------------------


class TextFormatter(logging.Formatter):
    """The classic one-line format, with the bound ids appended and secrets masked."""

    def __init__(self, redactor: Redactor = _redactor) -> None:
        super().__init__(TEXT_FORMAT)
        self._redact = redactor

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        fields = _context_of(record)
        if fields:
            line += " [" + " ".join(f"{key}={value}" for key, value in fields.items()) + "]"
        return line

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids, exc."""

    def __init__(self, redactor: Redactor = _redactor) -> None:
        super().__init__()
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context_of(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        clean = {key: self._redact(value) if isinstance(value, str) else value for key, value in entry.items()}
        # Masked field by field above, and once more as the line that leaves the process.
        return self._redact(json.dumps(clean, ensure_ascii=False, default=str))


def _utc_iso(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- configuration ------------------------------------------------------------------------


class _HandoffHandler(logging.StreamHandler):
    """Marks the handlers this module installed, so configuring again replaces them."""


def _formatter(format: str) -> logging.Formatter:
    if format == "json":
        return JsonFormatter()
    if format == "text":
        return TextFormatter()
    raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {format!r}")


def _level(level: Union[str, int]) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(str(level).strip().upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}")
    return value


def _install(logger: logging.Logger, handler: logging.Handler) -> None:
    for old in [each for each in logger.handlers if isinstance(each, _HandoffHandler)]:
        logger.removeHandler(old)
    logger.addHandler(handler)


def _handler(format: str, stream: Optional[IO[str]]) -> logging.Handler:
    handler = _HandoffHandler(stream or sys.stderr)
    handler.setFormatter(_formatter(format))
    return handler


def configure_logging(
    format: LogFormat = "text",
    level: Union[str, int] = "info",
    secrets: Iterable[str] = (),
    stream: Optional[IO[str]] = None,
) -> None:
    """The process's logging (the root logger): one handler, this format, these secrets masked.

    Calling it again replaces the handler; secrets once given stay masked.
    """
    handler = _handler(format, stream)
    # On the handler too: a library logger set to a lower level of its own (Sanic's are
    # at INFO) still propagates its records here, and they must obey --log-level as well.
    handler.setLevel(_level(level))
    add_secrets(secrets)
    root = logging.getLogger()
    _install(root, handler)
    root.setLevel(_level(level))
    # httpx logs every request URL at INFO, and Rasa's token travels in the URL.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def send_to_root(*names: str) -> None:
    """Drop these loggers' own handlers so their lines go through the root's (format, redaction).

    For libraries that install handlers of their own, such as Sanic's `sanic.*` loggers.
    """
    for name in names:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True


def configure_from_environment(
    secrets: Iterable[str] = (),
    environ: Mapping[str, str] = os.environ,
    stream: Optional[IO[str]] = None,
) -> None:
    """The handoff loggers of a process whose logging someone else set up (the action server).

    `HANDOFF_LOG_FORMAT` = text (default) or json; `HANDOFF_LOG_LEVEL` optional (else the
    host's level applies). Only the handoff loggers change: they get a handler of their own,
    masking `secrets`, and stop propagating, so rasa-sdk's own lines stay as rasa-sdk made them.
    """
    format = _environment_format(environ)
    level = _environment_level(environ)
    handler = _handler(format, stream)
    add_secrets(secrets)
    for name in HANDOFF_LOGGERS:
        logger = logging.getLogger(name)
        _install(logger, handler)
        logger.propagate = False
        if level is not None:
            logger.setLevel(level)


def _environment_format(environ: Mapping[str, str]) -> str:
    format = environ.get(LOG_FORMAT_ENV, "").strip().lower() or "text"
    if format in LOG_FORMATS:
        return format
    logging.getLogger(__name__).warning(
        "%s=%r is not one of %s; logging as text", LOG_FORMAT_ENV, format, ", ".join(LOG_FORMATS)
    )
    return "text"


def _environment_level(environ: Mapping[str, str]) -> Optional[int]:
    given = environ.get(LOG_LEVEL_ENV, "").strip()
    if not given:
        return None
    try:
        return _level(given)
    except ValueError:
        logging.getLogger(__name__).warning("%s=%r is not a log level; ignored", LOG_LEVEL_ENV, given)
        return None
