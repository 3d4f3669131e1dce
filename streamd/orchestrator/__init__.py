"""streamd's side of the MQTT conversation with the courtroom agents."""

from streamd.orchestrator.feed import Feed
from streamd.orchestrator.records import Refused, StaleState
from streamd.orchestrator.service import AgentView, CommandOutcome, Orchestrator, UnknownView

__all__ = [
    "AgentView",
    "CommandOutcome",
    "Feed",
    "Orchestrator",
    "Refused",
    "StaleState",
    "UnknownView",
]
