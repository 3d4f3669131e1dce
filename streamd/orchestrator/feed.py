"""The live feed: state changes, alerts, agent events and telemetry for the web pages.

Publishing never waits: each subscriber has a bounded queue, and a subscriber too slow to
keep up loses its oldest telemetry first, never an alert or a state change, unless the
queue holds nothing else (then it is told how many it missed).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

DROPPABLE = frozenset({"telemetry"})


@dataclass(slots=True)
class Message:
    id: int
    type: str
    data: dict[str, Any]

    def sse(self) -> bytes:
        body = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.type}\ndata: {body}\n\n".encode()


@dataclass(eq=False, slots=True)
class Subscriber:
    types: frozenset[str] | None
    limit: int
    queue: deque[Message] = field(default_factory=deque)
    missed: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, msg: Message) -> None:
        if self.types is not None and msg.type not in self.types:
            return
        if len(self.queue) >= self.limit:
            victim = next((m for m in self.queue if m.type in DROPPABLE), None)
            if victim is None and msg.type in DROPPABLE:
                self.missed += 1
                return
            self.queue.remove(victim if victim is not None else self.queue[0])
            self.missed += 1
        self.queue.append(msg)
        self.wake.set()


class Feed:
    def __init__(self, *, limit: int = 1000, recent: int = 200) -> None:
        self._subscribers: set[Subscriber] = set()
        self._ids = itertools.count(1)
        self._limit = limit
        self._recent: deque[Message] = deque(maxlen=recent)  # for Last-Event-ID replays

    def publish(self, type_: str, data: dict[str, Any]) -> None:
        msg = Message(next(self._ids), type_, data)
        if type_ not in DROPPABLE:
            self._recent.append(msg)
        for sub in self._subscribers:
            sub.offer(msg)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def listen(
        self,
        types: Iterable[str] | None = None,
        *,
        after: int | None = None,
        heartbeat: float | None = None,
    ) -> AsyncIterator[Message | None]:
        """Messages as they come; with `after`, first the recent ones after that id; None
        after `heartbeat` seconds without any (a proxy must see the line is alive)."""
        sub = Subscriber(frozenset(types) if types is not None else None, self._limit)
        if after is not None:
            for msg in self._recent:
                if msg.id > after:
                    sub.offer(msg)
        self._subscribers.add(sub)
        try:
            while True:
                while sub.queue:
                    if sub.missed:
                        yield Message(0, "missed", {"count": sub.missed})
                        sub.missed = 0
                    yield sub.queue.popleft()
                sub.wake.clear()
                try:
                    await asyncio.wait_for(sub.wake.wait(), heartbeat)
                except TimeoutError:
                    yield None
        finally:
            self._subscribers.discard(sub)
