"""What the agent says about itself, built from what it holds: its broker session (with the
last will that marks the room offline), its retained state, and its telemetry beat.

Pure but for reading the disk's free space: the agent publishes what these return.
"""

from __future__ import annotations

import shutil
import ssl
from datetime import UTC, datetime
from typing import Any

import aiomqtt

from agents.composer import Director
from agents.config import AgentConfig
from agents.journal import State
from agents.publisher import Publisher
from agents.recorder import Recorder
from agents.version import VERSION
from streamd_protocol import (
    AgentPhase,
    AgentState,
    Composition,
    ProcessState,
    ProcessStats,
    Telemetry,
    Topics,
)


def broker_args(cfg: AgentConfig, topics: Topics) -> dict[str, Any]:
    """aiomqtt's arguments: a persistent session per room, and a retained offline state as
    the will, so streamd learns at once when the room's PC drops off."""
    b = cfg.agent.broker
    offline = AgentState(room=cfg.room.code, phase=AgentPhase.OFFLINE, at=datetime.now(UTC))
    args: dict[str, Any] = {
        "hostname": b.host,
        "port": b.port,
        "username": b.username,
        "password": cfg.password,
        "identifier": f"streamd-agent-{cfg.court}-{cfg.room.code}",
        "clean_session": False,
        "keepalive": b.keepalive,
        "will": aiomqtt.Will(topics.state, offline.to_bytes(), qos=1, retain=True),
        "timeout": 5.0,
    }
    if b.tls:
        args["tls_context"] = ssl.create_default_context(cafile=b.ca_file)
    return args


def state_of(
    cfg: AgentConfig, st: State, recorder: Recorder | None, publisher: Publisher
) -> AgentState:
    """The room's retained state: what streamd reconciles its own record against."""
    return AgentState(
        room=cfg.room.code,
        phase=st.phase,
        at=datetime.now(UTC),
        hearing_id=st.hearing_id,
        session=st.session,
        recorder=recorder.stats().state if recorder else ProcessState.IDLE,
        publisher=publisher.stats().state,
        last_command_id=st.last_command_id,
        rejected=dict(st.rejected),
        agent_version=VERSION,
    )


def telemetry_of(
    cfg: AgentConfig,
    st: State,
    recorder: Recorder | None,
    publisher: Publisher,
    director: Director | None,
) -> Telemetry:
    """One beat for the technicians' wall: both encoders, the disk, the picture's layout."""
    try:
        free: int | None = shutil.disk_usage(cfg.data_dir).free
    except OSError:
        free = None
    return Telemetry(
        room=cfg.room.code,
        at=datetime.now(UTC),
        phase=st.phase,
        hearing_id=st.hearing_id,
        recorder=recorder.stats() if recorder else ProcessStats(),
        publisher=publisher.stats(),
        disk_free_bytes=free,
        segments=recorder.segments if recorder else 0,
        rejected=dict(st.rejected),
        composition=composition_of(cfg, director, recorder),
    )


def composition_of(
    cfg: AgentConfig, director: Director | None, recorder: Recorder | None
) -> Composition | None:
    """A room with several views: its layout, who is pinned or large, and which are lost."""
    if director is None:
        return None
    return Composition(
        layout=director.layout,
        layouts=list(director.comp.layouts),
        views=[v.name for v in cfg.agent.views],
        labels={v.name: v.label for v in cfg.agent.views if v.label},
        pinned=director.picker.pinned,
        big=director.picker.big,
        lost=recorder.lost if recorder else [],
    )
