"""The console's commands that change no stream state: restart the public encoder, compose
the picture, the transcript typed in the courtroom, and interruptions of the hearing.

Each is noted with the stream before it is sent, like every lifecycle step. Transcript
lines are stored first and forwarded to the room afterwards; what the broker could not
take goes with the backlog on the next connection.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import aiomqtt

from streamd.lifecycle import StreamState
from streamd.orchestrator import records, steps
from streamd.orchestrator.outcome import CommandOutcome, UnknownView
from streamd.orchestrator.records import Refused, StreamView
from streamd_protocol import Command, CommandKind, TranscriptLine

if TYPE_CHECKING:
    from streamd.orchestrator.service import Orchestrator

_COMPOSING = (StreamState.READY, StreamState.LIVE, StreamState.PAUSED, StreamState.OFF_AIR)


async def restart_publisher(orch: Orchestrator, hearing_id: int, *, actor: str) -> CommandOutcome:
    """A technician's restart of the room's public encoder. The stream's state does not
    change; the command is recorded with the stream like every other."""
    async with orch.locks[hearing_id]:
        view = await orch.stream(hearing_id)
        if view.state not in (StreamState.LIVE, StreamState.PAUSED):
            raise Refused(f"直播未进行，无需重启 / nothing public to restart ({view.state.value})")
        orch.require_online(view.room)
        cmd = orch.delivery.build(view, CommandKind.RESTART_PUBLISHER)
        return await _send_noted(orch, view, cmd, actor)


async def compose(
    orch: Orchestrator,
    hearing_id: int,
    *,
    actor: str,
    pin: str | None,
    auto: bool,
    layout: str | None,
) -> CommandOutcome:
    """The clerk pins a view in the large tile, returns it to the voice, or changes the
    layout. The stream's state does not change; the command is recorded with it."""
    async with orch.locks[hearing_id]:
        view = await orch.stream(hearing_id)
        if view.state not in _COMPOSING:
            raise Refused(f"未在录制，无法切换画面 / not recording ({view.state.value})")
        orch.require_online(view.room)
        _check_composition(orch, view.room, pin, layout)
        cmd = orch.delivery.build(
            view, CommandKind.COMPOSE, compose={"pin": pin, "auto": auto, "layout": layout}
        )
        return await _send_noted(orch, view, cmd, actor)


def _check_composition(orch: Orchestrator, room: str, pin: str | None, layout: str | None) -> None:
    """Refuse a view or layout the room's agent says it does not have; before its first
    telemetry nothing is known, and the agent's own check answers instead."""
    agent = orch.agents.get(room)
    comp = agent.telemetry.composition if agent and agent.telemetry else None
    if comp is None:
        return
    if pin is not None and pin not in comp.views:
        raise UnknownView(f"pin: {room} has no view {pin!r} / 本庭无此画面")
    if layout is not None and comp.layouts and layout not in comp.layouts:
        raise UnknownView(f"layout: {room} has no layout {layout!r} / 本庭无此布局")


async def _send_noted(
    orch: Orchestrator, view: StreamView, cmd: Command, actor: str
) -> CommandOutcome:
    await orch.work.call(
        records.note_command,
        stream_id=view.stream_id,
        command=steps.note(cmd),
        room=view.room,
        actor=actor,
    )
    ack = await orch.delivery.deliver(view, cmd)
    out = CommandOutcome(view.hearing_id, view.state, command_id=cmd.id, command=cmd.kind)
    if ack is None:
        return replace(out, delivery="unacknowledged", message="the agent did not answer")
    return replace(out, delivery="acked" if ack.ok else "refused", message=ack.message)


async def add_transcript(
    orch: Orchestrator, hearing_id: int, *, speaker: str, text: str, key: str | None, user: str
) -> tuple[int, bool]:
    view = await orch.stream(hearing_id)
    entry, created = await orch.work.call(
        records.add_transcript,
        stream_id=view.stream_id,
        speaker=speaker,
        text=text,
        key=key,
        user=user,
    )
    if created and entry.id is not None:
        line = TranscriptLine(hearing_id=hearing_id, seq=entry.seq, speaker=speaker, text=text)
        orch.work.spawn(_forward(orch, [(entry.id, view.room, line)]))
    return entry.seq, created


async def _forward(orch: Orchestrator, lines: list[tuple[int, str, TranscriptLine]]) -> None:
    done: list[int] = []
    for entry_id, room_code, line in lines:
        room = orch.rooms.get(room_code)
        if room is None:
            continue
        try:
            await orch.link.publish(room.topics.transcript, line.to_bytes())
        except (aiomqtt.MqttError, TimeoutError):
            break  # the rest go with the backlog on the next connection
        done.append(entry_id)
    if done:
        await orch.work.later(records.mark_forwarded, entry_ids=done)


async def forward_backlog(orch: Orchestrator) -> None:
    """Send the room every stored line it has not had yet (called on each connection)."""
    rows = await orch.work.call(records.unforwarded)
    lines = [
        (
            t.id,
            s.room,
            TranscriptLine(hearing_id=s.hearing_id, seq=t.seq, speaker=t.speaker, text=t.text),
        )
        for t, s in rows
        if t.id is not None
    ]
    if lines:
        await _forward(orch, lines)


async def start_interruption(
    orch: Orchestrator, hearing_id: int, *, kind: str, reason: str | None, user: str
) -> CommandOutcome:
    """Note the interruption; a live hearing is paused with its reason."""
    view = await orch.stream(hearing_id)
    _, created = await orch.work.call(
        records.start_interruption, stream_id=view.stream_id, kind=kind, reason=reason, user=user
    )
    if created and view.state is StreamState.LIVE:
        zh, en = records.INTERRUPTIONS[kind]
        label = f"{zh} / {en}" + (f": {reason}" if reason else "")
        return await orch.pause(hearing_id, actor=user, reason=label)
    return CommandOutcome(hearing_id, view.state, noop=not created)


async def end_interruption(orch: Orchestrator, hearing_id: int, *, user: str) -> CommandOutcome:
    view = await orch.stream(hearing_id)
    row = await orch.work.call(records.end_interruption, stream_id=view.stream_id, user=user)
    return CommandOutcome(hearing_id, view.state, noop=row is None)
