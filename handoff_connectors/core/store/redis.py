"""The shared store: one Redis for several action servers and several sidecars.

Why Lua scripts: a handoff's compound change (say, a Put, a Pop and a Push to
a dead-letter queue) must apply whole or not at all, and every process must
see it whole. A script runs atomically on the server, so each `write` is
one EVALSHA round trip, whatever it holds, and the once-only check of a Push
happens in the same step as the append (no race between two sidecars
receiving the same redelivered webhook).

Why queue items and timers carry their id in front (`"<id>"\\n<json>`):
Redis's cjson refuses the JSON escape of a lone surrogate (half an emoji
cut off by a desk), so a script that decoded an item to read its id would
fail on such a message. The script compares the framed id instead and
never decodes a value; values stay ASCII JSON, so lone surrogates survive
as escapes.

Everything a write needs is checked and encoded before the call (an
unknown change or a NaN due time raises here), so a script never stops
halfway on bad input.

Wake-ups: the write script PUBLISHes each queue that got an item on
`<prefix>wake`; `listen` keeps one subscription to it in a background task
that reconnects after an outage. A wake-up lost meanwhile is found by the
sidecar's periodic look, as with the sqlite pipe.

Key layout under the prefix: `k:<key>` values, `q:<queue>` lists,
`o:<once>` once-keys (expiring after ONCE_TTL), `t:<key>` timers, `l:<name>`
leases, `queues` the set of non-empty queues, `timers` the timers by due.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from typing import TYPE_CHECKING, Any, Optional

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from .base import (
    ONCE_TTL,
    ArmTimer,
    Change,
    Delete,
    DisarmTimer,
    Drop,
    Pop,
    Push,
    Put,
    QueueListener,
    Store,
    dump_value as _dump,
    key_text as _text,
    queue_kind,
)

if TYPE_CHECKING:
    from ..config import StoreSettings

logger = logging.getLogger(__name__)

# KEYS[1] non-empty queues, KEYS[2] timers by due; ARGV[1] wake channel,
# ARGV[2] once TTL (s), ARGV[3] the changes as JSON: [op, key index, arg index...].
_WRITE = """
local nonempty, timers = KEYS[1], KEYS[2]
local results, woken, seen = {}, {}, {}
for i, c in ipairs(cjson.decode(ARGV[3])) do
  local op, key, ok = c[1], KEYS[c[2]], 1
  if op == 'put' then
    redis.call('SET', key, ARGV[c[3]])
  elseif op == 'del' then
    redis.call('DEL', key)
  elseif op == 'push' then
    local queue = ARGV[c[4]]
    if c[5] > 0 and not redis.call('SET', KEYS[c[5]], '1', 'NX', 'EX', ARGV[2]) then
      ok = 0
    else
      redis.call('RPUSH', key, ARGV[c[3]])
      redis.call('SADD', nonempty, queue)
      if not seen[queue] then
        seen[queue] = true
        woken[#woken + 1] = queue
      end
    end
  elseif op == 'pop' then
    local head, tag = redis.call('LINDEX', key, 0), ARGV[c[3]]
    if head and string.sub(head, 1, #tag) == tag then
      redis.call('LPOP', key)
      if redis.call('LLEN', key) == 0 then
        redis.call('SREM', nonempty, ARGV[c[4]])
      end
    else
      ok = 0
    end
  elseif op == 'drop' then
    local tag, found = ARGV[c[3]], nil
    for _, raw in ipairs(redis.call('LRANGE', key, 0, -1)) do
      if string.sub(raw, 1, #tag) == tag then
        found = raw
        break
      end
    end
    if found then
      redis.call('LREM', key, 1, found)
      if redis.call('LLEN', key) == 0 then
        redis.call('SREM', nonempty, ARGV[c[4]])
      end
    else
      ok = 0
    end
  elseif op == 'arm' then
    redis.call('SET', key, ARGV[c[3]])
    redis.call('ZADD', timers, ARGV[c[4]], ARGV[c[5]])
  elseif op == 'disarm' then
    redis.call('DEL', key)
    redis.call('ZREM', timers, ARGV[c[3]])
  end
  results[i] = ok
end
for _, queue in ipairs(woken) do
  redis.call('PUBLISH', ARGV[1], queue)
end
return results
"""

# KEYS[1] the timer, KEYS[2] timers by due; ARGV[1] the id tag, ARGV[2] the index member.
_CLAIM = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

# KEYS[1] the lease; ARGV[1] owner, ARGV[2] ttl (ms).
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
"""

# The listener's reconnection waits, doubling from the first to the last.
_RETRY_FIRST = 0.1
_RETRY_LAST = 5.0
# Connections per process, and how long a call waits for one when all are busy.
_POOL_SIZE = 64
_POOL_WAIT = 20.0
# SSCAN batch: large enough that a few hundred waiting queues are one round trip.
_SCAN_COUNT = 1000




def _tag(ident: Optional[str]) -> str:
    """What a framed value starts with: its id as JSON, then a newline (JSON never has a raw one)."""
    return json.dumps(ident, ensure_ascii=True) + "\n"


def _framed(ident: Optional[str], value: dict) -> str:
    return _tag(ident) + _dump(value)


def _unframed(raw: bytes) -> dict:
    """The value of a framed queue item or timer."""
    return json.loads(raw.split(b"\n", 1)[1])


def _glob_escaped(text: str) -> str:
    """`text` matched literally by a Redis glob pattern."""
    return "".join("\\" + char if char in "\\*?[]" else char for char in text)


def _item_id(item: dict) -> Optional[str]:
    ident = item.get("id")
    return None if ident is None else str(ident)


def _due(timer: dict) -> str:
    due = float(timer["due"])
    if math.isnan(due):
        raise ValueError(f"timer due is not a number: {timer!r}")
    return repr(due)


def _key(prefix: str, tag: str, name: str) -> str:
    return prefix + tag + _text(name)


class _Batch:
    """The KEYS, ARGV and op list of one write script call (ops point into KEYS and ARGV by index)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self.keys: list[str] = [prefix + "queues", prefix + "timers"]
        self._header: list[str] = [prefix + "wake", str(int(ONCE_TTL))]
        self._payloads: list[str] = []
        self.ops: list[list[Any]] = []

    def key(self, tag: str, name: str) -> int:
        self.keys.append(_key(self._prefix, tag, name))
        return len(self.keys)

    def arg(self, value: str) -> int:
        self._payloads.append(value)
        return len(self._header) + 1 + len(self._payloads)  # after the header and the ops

    def add(self, change: Change) -> None:
        if isinstance(change, Put):
            self.ops.append(["put", self.key("k:", change.key), self.arg(_dump(change.value))])
        elif isinstance(change, Delete):
            self.ops.append(["del", self.key("k:", change.key)])
        elif isinstance(change, Push):
            self._add_push(change)
        elif isinstance(change, Pop):
            queue = self.key("q:", change.queue)
            self.ops.append(["pop", queue, self.arg(_tag(str(change.item_id))), self.arg(_text(change.queue))])
        elif isinstance(change, Drop):
            queue = self.key("q:", change.queue)
            self.ops.append(["drop", queue, self.arg(_tag(str(change.item_id))), self.arg(_text(change.queue))])
        elif isinstance(change, ArmTimer):
            self._add_arm(change)
        elif isinstance(change, DisarmTimer):
            self.ops.append(["disarm", self.key("t:", change.key), self.arg(_text(change.key))])
        else:
            raise TypeError(f"not a store change: {change!r}")

    def _add_push(self, change: Push) -> None:
        item = _framed(_item_id(change.item), change.item)
        queue = self.key("q:", change.queue)
        once = 0 if change.once is None else self.key("o:", change.once)
        self.ops.append(["push", queue, self.arg(item), self.arg(_text(change.queue)), once])

    def _add_arm(self, change: ArmTimer) -> None:
        timer = _framed(str(change.timer["id"]), change.timer)
        key = self.key("t:", change.key)
        self.ops.append(["arm", key, self.arg(timer), self.arg(_due(change.timer)), self.arg(_text(change.key))])

    def argv(self) -> list[str]:
        return [*self._header, json.dumps(self.ops, separators=(",", ":")), *self._payloads]


class RedisStore(Store):
    """The Store contract on one Redis, every key under `key_prefix`."""

    def __init__(self, client: aioredis.Redis, key_prefix: str = "rasa_handoff:") -> None:
        self._redis = client
        self._prefix = _text(key_prefix)
        self._write = client.register_script(_WRITE)
        self._claim = client.register_script(_CLAIM)
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._listeners: list[QueueListener] = []
        self._listening: Optional[asyncio.Task] = None

    @classmethod
    def from_settings(cls, settings: StoreSettings) -> "RedisStore":
        """The store `handoff.yml` describes (never logs the URL: it may hold a password)."""
        # A pool that waits for a free connection: one that raised at once when all
        # were busy turned a burst of webhooks into 503s, and a failed Pop after a
        # delivery into a duplicate.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.url.get_secret_value(),
            max_connections=_POOL_SIZE,
            timeout=_POOL_WAIT,
            socket_keepalive=True,
            health_check_interval=30,
        )
        return cls(aioredis.Redis(connection_pool=pool), settings.key_prefix)

    def _name(self, suffix: str) -> str:
        return self._prefix + suffix

    def _key(self, tag: str, name: str) -> str:
        return _key(self._prefix, tag, name)

    # -- reads ---------------------------------------------------------------

    async def get(self, key: str) -> Optional[dict]:
        raw = await self._redis.get(self._key("k:", key))
        return None if raw is None else json.loads(raw)

    async def peek(self, queue: str) -> Optional[dict]:
        raw = await self._redis.lindex(self._key("q:", queue), 0)
        return None if raw is None else _unframed(raw)

    async def items(self, queue: str, limit: int = 100) -> list[dict]:
        raws = await self._redis.lrange(self._key("q:", queue), 0, max(0, limit - 1)) if limit > 0 else []
        return [_unframed(raw) for raw in raws]

    async def queues(self, prefix: str) -> list[str]:
        pattern = _glob_escaped(_text(prefix)) + "*"
        names = {
            name.decode("utf-8")
            async for name in self._redis.sscan_iter(self._name("queues"), match=pattern, count=_SCAN_COUNT)
        }
        return sorted(names)

    async def depths(self) -> dict[str, int]:
        names = [name.decode("utf-8") for name in await self._redis.smembers(self._name("queues"))]
        if not names:
            return {}
        pipeline = self._redis.pipeline(transaction=False)
        for name in names:
            pipeline.llen(self._key("q:", name))
        counts: dict[str, int] = {}
        for name, length in zip(names, await pipeline.execute()):
            if length:
                counts[queue_kind(name)] = counts.get(queue_kind(name), 0) + length
        return counts

    async def timer(self, key: str) -> Optional[dict]:
        raw = await self._redis.get(self._key("t:", key))
        return None if raw is None else _unframed(raw)

    async def due_timers(self, now: float, limit: int = 100) -> list[dict]:
        members = await self._redis.zrangebyscore(self._name("timers"), "-inf", repr(float(now)), start=0, num=limit)
        if not members:
            return []
        values = await self._redis.mget([self._key("t:", member.decode("utf-8")) for member in members])
        return [_unframed(raw) for raw in values if raw is not None]  # a claimed one vanished meanwhile

    # -- writes --------------------------------------------------------------

    async def write(self, *changes: Change) -> list[bool]:
        if not changes:
            return []
        batch = _Batch(self._prefix)
        for change in changes:
            batch.add(change)
        results = await self._write(keys=batch.keys, args=batch.argv())
        return [bool(result) for result in results]

    async def claim_timer(self, key: str, timer_id: str) -> bool:
        keys = [self._key("t:", key), self._name("timers")]
        return bool(await self._claim(keys=keys, args=[_tag(str(timer_id)), _text(key)]))

    # -- leases --------------------------------------------------------------

    async def acquire(self, name: str, owner: str, ttl: float) -> bool:
        millis = max(1, round(ttl * 1000))
        return bool(await self._acquire(keys=[self._key("l:", name)], args=[_text(owner), millis]))

    async def release(self, name: str, owner: str) -> None:
        await self._release(keys=[self._key("l:", name)], args=[_text(owner)])

    # -- wake-ups ------------------------------------------------------------

    def listen(self, listener: QueueListener) -> None:
        self._listeners.append(listener)
        if self._listening is None:
            self._listening = asyncio.get_running_loop().create_task(self._listen_forever())

    async def _listen_forever(self) -> None:
        wait, outage = _RETRY_FIRST, False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._name("wake"))
                if outage:
                    logger.info("Redis wake-ups flow again")
                wait, outage = _RETRY_FIRST, False
                await self._relay(pubsub)
            except (RedisError, OSError) as error:
                if not outage:
                    logger.warning("Redis wake-ups interrupted (%s): retrying; until then, messages wait "
                                   "for the next poll", error)
                outage = True
            finally:
                await pubsub.aclose()
            await asyncio.sleep(wait)
            wait = min(wait * 2, _RETRY_LAST)

    async def _relay(self, pubsub: PubSub) -> None:
        async for message in pubsub.listen():
            if message.get("type") == "message":
                self._hear(message["data"].decode("utf-8", "replace"))

    def _hear(self, queue: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(queue)
            except Exception:
                logger.exception("A wake-up listener failed for queue %r", queue)

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            await asyncio.gather(self._listening, return_exceptions=True)
            self._listening = None
        await self._redis.aclose()
