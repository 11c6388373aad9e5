"""The portal's records: K5 projects and memberships, image jobs, their audit history and
per-zone sync results. One module per concept; import from here."""

from imaging.models.accounts import (
    AccountSource,
    ExternalAccount,
    K5SignInAttempt,
    SignInOutcome,
)
from imaging.models.batches import Batch, BatchState, Schedule
from imaging.models.events import EventKind, JobEvent
from imaging.models.health import EngineHeartbeat, ProjectPoll
from imaging.models.inventory import VolumeInventory
from imaging.models.jobs import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    Automation,
    Channel,
    ImageJob,
    InvalidTransition,
    JobState,
    OsFamily,
    SyncRole,
    SyncStatus,
    UploadAttempt,
    ZoneSyncResult,
)
from imaging.models.lease import EngineLease
from imaging.models.outbox import PendingTask
from imaging.models.preferences import Preference
from imaging.models.projects import (
    BlockStorageVersion,
    K5Project,
    Membership,
    MembershipSource,
    Role,
)
from imaging.models.steps import (
    CLOSED_STEP_STATES,
    OPEN_STEP_STATES,
    JobStep,
    StepName,
    StepState,
)
from imaging.models.tokens import ApiToken

__all__ = [
    "ACTIVE_STATES",
    "CLOSED_STEP_STATES",
    "OPEN_STEP_STATES",
    "TERMINAL_STATES",
    "AccountSource",
    "ApiToken",
    "Automation",
    "Batch",
    "BatchState",
    "BlockStorageVersion",
    "Channel",
    "EngineHeartbeat",
    "EngineLease",
    "EventKind",
    "ExternalAccount",
    "ImageJob",
    "InvalidTransition",
    "JobEvent",
    "JobState",
    "JobStep",
    "K5Project",
    "K5SignInAttempt",
    "Membership",
    "MembershipSource",
    "OsFamily",
    "PendingTask",
    "Preference",
    "ProjectPoll",
    "Role",
    "Schedule",
    "SignInOutcome",
    "StepName",
    "StepState",
    "SyncRole",
    "SyncStatus",
    "UploadAttempt",
    "VolumeInventory",
    "ZoneSyncResult",
]
