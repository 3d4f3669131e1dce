"""streamd's side of the MQTT conversation with the courtroom agents."""

from streamd.orchestrator.feed import Feed
from streamd.orchestrator.liveness import AgentView
from streamd.orchestrator.outcome import CommandOutcome, UnknownView
from streamd.orchestrator.records import Refused, StaleState
from streamd.orchestrator.service import Orchestrator

__all__ = [
    "AgentView",
    "CommandOutcome",
    "Feed",
    "Orchestrator",
    "Refused",
    "StaleState",
    "UnknownView",
]
