"""Serializers of the playbooks API, by resource."""

from playbooks.api.serializers.common import FullCleanMixin
from playbooks.api.serializers.incidents import (
    CommentSerializer,
    ContainSerializer,
    EscalationSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    NoteSerializer,
    PlaybookSerializer,
    PlaybookVersionSerializer,
    ReportSerializer,
    SeriousSerializer,
    StepCompletionSerializer,
    TimelineEntrySerializer,
)
from playbooks.api.serializers.reviews import (
    ActionItemSerializer,
    CancelSerializer,
    CompleteActionItemSerializer,
    CompleteDrillSerializer,
    DrillSerializer,
    GapSerializer,
    ReviewSerializer,
)
from playbooks.api.serializers.signals import (
    AlertmanagerPayloadSerializer,
    AlertSerializer,
    InvestigationTaskSerializer,
    MapSignalSerializer,
    PlainSignalSerializer,
    SignalSerializer,
)

__all__ = [
    "ActionItemSerializer",
    "AlertSerializer",
    "AlertmanagerPayloadSerializer",
    "CancelSerializer",
    "CommentSerializer",
    "CompleteActionItemSerializer",
    "CompleteDrillSerializer",
    "ContainSerializer",
    "DrillSerializer",
    "EscalationSerializer",
    "FullCleanMixin",
    "GapSerializer",
    "IncidentDetailSerializer",
    "IncidentSerializer",
    "InvestigationTaskSerializer",
    "MapSignalSerializer",
    "NoteSerializer",
    "PlainSignalSerializer",
    "PlaybookSerializer",
    "PlaybookVersionSerializer",
    "ReportSerializer",
    "ReviewSerializer",
    "SeriousSerializer",
    "SignalSerializer",
    "StepCompletionSerializer",
    "TimelineEntrySerializer",
]
