"""streamd's side of the MQTT conversation with the courtroom agents."""

from streamd.orchestrator.alerts import AlertDesk
from streamd.orchestrator.casefile import case_file
from streamd.orchestrator.feed import Feed, Message
from streamd.orchestrator.intake import REPLICAS_TREE, Intake
from streamd.orchestrator.leadership import (
    Leadership,
    Lease,
    LeaseTiming,
    instance_holder,
    replica_name,
)
from streamd.orchestrator.liveness import AgentView
from streamd.orchestrator.outcome import CommandOutcome, UnknownView
from streamd.orchestrator.records import Refused, StaleState
from streamd.orchestrator.rooms import Room, court_secret, derive, room_key, rooms_of
from streamd.orchestrator.service import Orchestrator
from streamd.orchestrator.stats import ROUND_TRIP_BUCKETS
from streamd.orchestrator.worker import Worker

__all__ = [
    "REPLICAS_TREE",
    "ROUND_TRIP_BUCKETS",
    "AgentView",
    "AlertDesk",
    "CommandOutcome",
    "Feed",
    "Intake",
    "Leadership",
    "Lease",
    "LeaseTiming",
    "Message",
    "Orchestrator",
    "Refused",
    "Room",
    "StaleState",
    "UnknownView",
    "Worker",
    "case_file",
    "casefile",
    "court_secret",
    "derive",
    "instance_holder",
    "pending",
    "records",
    "replica_name",
    "room_key",
    "rooms_of",
]
