"""A fake Salesforce Messaging for In-App and Web (Messaging API v2), for the tests.

It follows the documented shapes summarised in
`../shared/reference/salesforce-miaw/NOTES.md` (the public sample client's
calls and the Messaging API reference it links): the endpoints under the
SCRT URL, the unauthenticated and continuation tokens (JWTs with an `exp`),
`Authorization: Bearer` on every call but the token call, JSON bodies with
their required fields, and the server-sent-event stream
`GET /eventrouter/v1/sse` (`Authorization`, `X-Org-ID`, `Last-Event-ID`),
whose events carry an `id:`, an `event:` name and the JSON `data` with the
entry's `entryPayload` as a JSON string.

What the connector sends off those shapes is answered 4xx and written to
`violations` (tests assert it empty): a missing or expired token, a missing
header or field, a conversation id that is not a UUID, another end user's
conversation. The agents' side is played with `agent_joins`, `agent_says`,
`agent_types`, `agent_reads`, `routing_result` and `agent_closes`; each adds
an entry to the end user's stream. `drop_streams()` and `drop_after` cut
open streams (the reader must resume with `Last-Event-ID`); tokens live
`token_lifetime` seconds, and a stream is cut when its token expires.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

ORG_ID = "00D5g000004XyZaEAK"
DEPLOYMENT = "Rasa_Handoff_Custom_Client"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CONVERSATION = re.compile(r"/iamessage/api/v2/conversation/([^/]+)(/message|/entry)?")


def jwt(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Conversation:
    id: str
    subject: str
    routing_attributes: dict
    messages: list[dict] = field(default_factory=list)  # the end user's, as posted
    closed_by: Optional[str] = None


@dataclass
class Stream:
    subject: str
    last_event_id: Optional[str]
    token: str
    served: int = 0
    cut: bool = False


class FakeMessaging:
    def __init__(self, org_id: str = ORG_ID, deployment: str = DEPLOYMENT, token_lifetime: float = 3600.0) -> None:
        self.org_id, self.deployment, self.token_lifetime = org_id, deployment, token_lifetime
        self.violations: list[str] = []
        self.requests: list[Request] = []
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (subject, exp)
        self.conversations: dict[str, Conversation] = {}
        self.log: dict[str, list[tuple[str, str, dict]]] = {}  # subject -> [(id, event, data)]
        self.streams: list[Stream] = []
        #: Cut each stream after it has sent this many events (None: never).
        self.drop_after: Optional[int] = None
        #: Seconds between heartbeat comments on an idle stream.
        self.heartbeat = 0.25
        #: Answer every call (but the stream) with this status instead (None: answer normally).
        self.failing: Optional[int] = None
        self._changed = threading.Condition()
        self._serial = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- running -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeMessaging":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._changed:
            for stream in self.streams:
                stream.cut = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = check()
                if found:
                    return found
                if time.monotonic() > deadline:
                    raise AssertionError(f"timed out waiting for {what}; requests: {[(r.method, r.path) for r in self.requests]}")
                self._changed.wait(0.05)

    # -- the agents' side ------------------------------------------------------------------

    def agent_joins(self, conversation_id: str, name: str) -> str:
        return self._entry(conversation_id, "CONVERSATION_PARTICIPANT_CHANGED", "Agent", name, {
            "entryType": "ParticipantChanged",
            "entries": [{"operation": "add", "displayName": name, "participant": {"role": "Agent", "appType": "agent", "subject": "005AG"}}],
        })

    def agent_says(self, conversation_id: str, name: str, text: str, attachments: Optional[list[dict]] = None) -> str:
        content: dict[str, Any] = {"formatType": "Attachments" if attachments else "Text", "text": text}
        if attachments:
            content["attachments"] = attachments
        return self._entry(conversation_id, "CONVERSATION_MESSAGE", "Agent", name, {
            "entryType": "Message",
            "abstractMessage": {"messageType": "StaticContentMessage", "id": str(uuid.uuid4()), "staticContent": content},
            "messageReason": None,
        })

    def agent_types(self, conversation_id: str, name: str, started: bool = True) -> str:
        kind = "TypingStartedIndicator" if started else "TypingStoppedIndicator"
        event = "CONVERSATION_TYPING_STARTED_INDICATOR" if started else "CONVERSATION_TYPING_STOPPED_INDICATOR"
        return self._entry(conversation_id, event, "Agent", name, {"entryType": kind})

    def agent_reads(self, conversation_id: str, name: str, message_id: str) -> str:
        return self._entry(conversation_id, "CONVERSATION_READ_ACKNOWLEDGEMENT", "Agent", name,
                           {"entryType": "ReadAcknowledgement", "acknowledgementTimestamp": _now_ms()}, related=[message_id])

    def routing_result(self, conversation_id: str, routing_type: str = "Initial", failure: str = "None") -> str:
        return self._entry(conversation_id, "CONVERSATION_ROUTING_RESULT", "Router", None,
                           {"entryType": "RoutingResult", "routingType": routing_type, "failureType": failure})

    def agent_closes(self, conversation_id: str) -> str:
        with self._changed:
            conversation = self.conversations[conversation_id]
            conversation.closed_by = conversation.closed_by or "agent"
            return self._emit(conversation.subject, "CONVERSATION_CLOSE_CONVERSATION", {"conversationId": conversation_id})

    def drop_streams(self) -> None:
        """Cut every open stream now, as a network drop would."""
        with self._changed:
            for stream in self.streams:
                stream.cut = True
            self._changed.notify_all()

    def open_streams(self) -> list[Stream]:
        with self._changed:
            return [s for s in self.streams if not s.cut]

    def conversation_of(self, predicate: Callable[[Conversation], bool]) -> Optional[Conversation]:
        with self._changed:
            return next((c for c in self.conversations.values() if predicate(c)), None)

    def texts(self, conversation_id: str) -> list[str]:
        with self._changed:
            return [m["staticContent"]["text"] for m in self.conversations[conversation_id].messages]

    def _entry(self, conversation_id: str, event: str, role: str, name: Optional[str], payload: dict,
               related: Optional[list[str]] = None) -> str:
        with self._changed:
            conversation = self.conversations[conversation_id]
            entry: dict[str, Any] = {
                "identifier": str(uuid.uuid4()),
                "sender": {"role": role, "appType": role.lower(), "subject": f"{role}-1"},
                "transcriptedTimestamp": _now_ms(),
                "relatedRecords": related or [],
                "entryPayload": json.dumps(payload),
            }
            if name:
                entry["senderDisplayName"] = name
            self._emit(conversation.subject, event, {"conversationId": conversation_id, "conversationEntry": entry})
            return entry["identifier"]

    def _emit(self, subject: str, event: str, data: dict) -> str:
        self._serial += 1
        event_id = f"{1_700_000_000_000 + self._serial}-{self._serial:06d}"
        self.log.setdefault(subject, []).append((event_id, event, data))
        self._changed.notify_all()
        return event_id

    # -- the API -------------------------------------------------------------------------------

    def _violation(self, request: Request, what: str) -> None:
        self.violations.append(f"{request.method} {request.path}: {what}")

    def _subject(self, request: Request) -> Optional[str]:
        """The end user the bearer token stands for; None (and a violation) when it does not."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            self._violation(request, "no Authorization: Bearer header")
            return None
        found = self.tokens.get(auth[len("Bearer "):])
        if found is None:
            self._violation(request, "a token Salesforce never issued")
            return None
        subject, exp = found
        if exp <= time.time():
            self._violation(request, "an expired access token")
            return None
        return subject

    def _issue(self, subject: str) -> dict:
        exp = time.time() + self.token_lifetime
        token = jwt({"sub": subject, "exp": exp, "jti": uuid.uuid4().hex, "orgId": self.org_id})
        self.tokens[token] = (subject, exp)
        log = self.log.setdefault(subject, [])
        return {
            "accessToken": token,
            "lastEventId": log[-1][0] if log else "0",
            "context": {"configuration": {"embeddedServiceConfig": {"name": self.deployment, "deploymentType": "API"}}},
        }

    def _json_body(self, request: Request, required: tuple[str, ...]) -> Optional[dict]:
        if not request.headers.get("content-type", "").startswith("application/json"):
            self._violation(request, "Content-Type is not application/json")
            return None
        try:
            body = request.json()
        except ValueError:
            self._violation(request, "body is not JSON")
            return None
        if not isinstance(body, dict):
            self._violation(request, "body is not a JSON object")
            return None
        missing = [name for name in required if body.get(name) in (None, "")]
        if missing:
            self._violation(request, f"missing {missing}")
            return None
        if "esDeveloperName" in required and body["esDeveloperName"] != self.deployment:
            self._violation(request, f"esDeveloperName {body['esDeveloperName']!r} is not the deployment")
            return None
        return body

    def answer(self, request: Request) -> tuple[int, Any]:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()
            if self.failing is not None:
                return self.failing, {"message": "injected"}
            return self._answer(request)

    def _answer(self, request: Request) -> tuple[int, Any]:
        path, method = request.path, request.method
        if (method, path) == ("POST", "/iamessage/api/v2/authorization/unauthenticated/access-token"):
            if "authorization" in request.headers:
                self._violation(request, "the token call takes no Authorization header")
            body = self._json_body(request, ("orgId", "esDeveloperName", "capabilitiesVersion", "platform"))
            if body is None:
                return 400, {"message": "bad request"}
            if body["orgId"] != self.org_id:
                return 400, {"message": "unknown org"}
            return 200, self._issue(uuid.uuid4().hex)
        if (method, path) == ("GET", "/iamessage/api/v2/authorization/continuation-access-token"):
            subject = self._subject(request)
            return (401, {"message": "invalid token"}) if subject is None else (200, self._issue(subject))
        subject = self._subject(request)
        if subject is None:
            return 401, {"message": "invalid token"}
        if (method, path) == ("POST", "/iamessage/api/v2/conversation"):
            body = self._json_body(request, ("conversationId", "esDeveloperName"))
            if body is None:
                return 400, {"message": "bad request"}
            conversation_id = body["conversationId"]
            if not _UUID.fullmatch(str(conversation_id)):
                self._violation(request, "conversationId is not a lower-case UUID")
                return 400, {"message": "conversationId"}
            attributes = body.get("routingAttributes", {})
            if not isinstance(attributes, dict):
                self._violation(request, "routingAttributes is not an object")
                return 400, {"message": "routingAttributes"}
            if conversation_id in self.conversations:
                return 409, {"message": "conversation exists"}
            self.conversations[conversation_id] = Conversation(conversation_id, subject, dict(attributes))
            return 201, {}
        matched = _CONVERSATION.fullmatch(path)
        if matched is None:
            self._violation(request, "no such endpoint")
            return 404, {"message": "not found"}
        conversation = self.conversations.get(matched.group(1))
        if conversation is None or conversation.subject != subject:
            self._violation(request, "a conversation of another end user, or none")
            return 404, {"message": "conversation not found"}
        if method == "POST" and matched.group(2) == "/message":
            return self._message(request, conversation)
        if method == "DELETE" and matched.group(2) is None:
            if request.query.get("esDeveloperName") != [self.deployment]:
                self._violation(request, "esDeveloperName query parameter missing or wrong")
                return 400, {"message": "esDeveloperName"}
            conversation.closed_by = conversation.closed_by or "end user"
            self._emit(subject, "CONVERSATION_CLOSE_CONVERSATION", {"conversationId": conversation.id})
            return 204, None
        self._violation(request, "no such endpoint")
        return 404, {"message": "not found"}

    def _message(self, request: Request, conversation: Conversation) -> tuple[int, Any]:
        body = self._json_body(request, ("message", "esDeveloperName"))
        if body is None:
            return 400, {"message": "bad request"}
        message = body["message"]
        content = message.get("staticContent") if isinstance(message, dict) else None
        if not (
            isinstance(message, dict) and _UUID.fullmatch(str(message.get("id")))
            and message.get("messageType") == "StaticContentMessage" and isinstance(content, dict)
            and content.get("formatType") == "Text" and isinstance(content.get("text"), str) and content["text"]
        ):
            self._violation(request, f"message off its shape: {message}")
            return 400, {"message": "message"}
        if conversation.closed_by:
            return 400, {"message": "conversation closed"}
        if any(m["id"] == message["id"] for m in conversation.messages):
            return 202, {}  # the same entry again: kept once
        conversation.messages.append(message)
        entry = {
            "identifier": message["id"],
            "sender": {"role": "EndUser", "appType": "iamessage", "subject": conversation.subject},
            "senderDisplayName": "Guest",
            "transcriptedTimestamp": _now_ms(),
            "entryPayload": json.dumps({"entryType": "Message", "abstractMessage": message}),
        }
        # The end user's own message comes back on the stream, as it does to every client.
        self._emit(conversation.subject, "CONVERSATION_MESSAGE", {"conversationId": conversation.id, "conversationEntry": entry})
        return 202, {}

    # -- the stream ------------------------------------------------------------------------------

    def _open_stream(self, request: Request) -> tuple[Optional[Stream], int]:
        with self._changed:
            self.requests.append(request)
            if self.failing is not None:
                return None, self.failing
            subject = self._subject(request)
            if subject is None:
                return None, 401
            if request.headers.get("x-org-id") != self.org_id:
                self._violation(request, "X-Org-ID header missing or not the org")
                return None, 400
            stream = Stream(subject, request.headers.get("last-event-id"), request.headers["authorization"][7:])
            self.streams.append(stream)
            self._changed.notify_all()
            return stream, 200

    def _position(self, stream: Stream) -> int:
        log = self.log.get(stream.subject, [])
        if stream.last_event_id is None:
            return len(log)  # from now on
        for index, (event_id, _, _) in enumerate(log):
            if event_id == stream.last_event_id:
                return index + 1
        return 0 if stream.last_event_id == "0" else len(log)

    def _serve_stream(self, stream: Stream, write: Callable[[bytes], None]) -> None:
        with self._changed:
            position = self._position(stream)
        beat = time.monotonic()
        while True:
            with self._changed:
                if stream.cut or self.tokens[stream.token][1] <= time.time():
                    stream.cut = True
                    return
                log = self.log.get(stream.subject, [])
                if position >= len(log):
                    self._changed.wait(0.05)
                    chunk = None
                else:
                    event_id, event, data = log[position]
                    position += 1
                    stream.served += 1
                    chunk = f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()
                    if self.drop_after is not None and stream.served >= self.drop_after:
                        stream.cut = True  # this event goes out, then the line drops
            if chunk is None and time.monotonic() - beat > self.heartbeat:
                chunk, beat = b": heartbeat\n\n", time.monotonic()
            if chunk is not None:
                write(chunk)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                path, _, query = self.path.partition("?")
                request = Request(
                    self.command, path, parse_qs(query), {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                if (request.method, request.path) == ("GET", "/eventrouter/v1/sse"):
                    return self._stream(request)
                status, payload = fake.answer(request)
                body = b"" if payload is None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, request: Request) -> None:
                stream, status = fake._open_stream(request)
                try:
                    if stream is None:
                        body = json.dumps({"message": "refused"}).encode()
                        self.send_response(status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    self.wfile.flush()

                    def write(chunk: bytes) -> None:
                        self.wfile.write(chunk)
                        self.wfile.flush()

                    fake._serve_stream(stream, write)
                except (BrokenPipeError, ConnectionResetError):
                    if stream is not None:
                        stream.cut = True

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _now_ms() -> int:
    return int(time.time() * 1000)
