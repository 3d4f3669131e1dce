"""The orchestrator's database work: one function per unit of work, run in a worker thread.

Split by aggregate (streams and their commands, line claims, alerts, agent events,
transcript and interruptions); this package's surface is what callers use as
`records.<name>`."""

from streamd.orchestrator.records.agent_events import events_of, store_events
from streamd.orchestrator.records.alert_store import (
    acknowledge_alert,
    alert_key,
    clear_alert,
    list_alerts,
    raise_alert,
)
from streamd.orchestrator.records.base import CommandNote, Refused, StaleState, StreamView, view_of
from streamd.orchestrator.records.claims import (
    Signature,
    live_repair,
    move_line,
    plan_go_live,
    publish_target,
)
from streamd.orchestrator.records.streams import (
    active_streams,
    command_answered,
    due_hearings,
    flag,
    history,
    note_command,
    persist_step,
    stream_for,
    stream_row,
    unanswered,
)
from streamd.orchestrator.records.transcript import (
    INTERRUPTIONS,
    add_transcript,
    end_interruption,
    mark_forwarded,
    start_interruption,
    unforwarded,
)

__all__ = [
    "INTERRUPTIONS",
    "CommandNote",
    "Refused",
    "Signature",
    "StaleState",
    "StreamView",
    "acknowledge_alert",
    "active_streams",
    "add_transcript",
    "alert_key",
    "clear_alert",
    "command_answered",
    "due_hearings",
    "end_interruption",
    "events_of",
    "flag",
    "history",
    "list_alerts",
    "live_repair",
    "mark_forwarded",
    "move_line",
    "note_command",
    "persist_step",
    "plan_go_live",
    "publish_target",
    "raise_alert",
    "start_interruption",
    "store_events",
    "stream_for",
    "stream_row",
    "unanswered",
    "unforwarded",
    "view_of",
]
