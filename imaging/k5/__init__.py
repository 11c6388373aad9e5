"""The K5 (FUJITSU Cloud Service for OSS) facade: the only code in the portal that speaks HTTP
to K5.

    from imaging.k5 import K5Client, K5Config, blockstorage, compute, image

    client = K5Client(K5Config(auth_url=..., region="jp-east-1", contract="...",
                               username="...", password="...", project_id="..."))
    volume = blockstorage.volume_get(client, volume_id)

One module per service, plain functions named <resource>_<verb>, small frozen dataclasses as
results, and one exception family (errors.K5Error) with a `permanent` flag. A person's own
sign-in with their K5 account (their projects and roles, no service credential) is
`signin.user_access()`.
"""

from .catalog import Endpoint
from .client import CallRecord, K5Client
from .deadline import K5TooSlow
from .errors import (
    K5AccessDenied,
    K5BadRequest,
    K5Conflict,
    K5CredentialError,
    K5EndpointNotFound,
    K5Error,
    K5InvalidResponse,
    K5NotFound,
    K5NotSignedIn,
    K5OutcomeUnknown,
    K5RateLimited,
    K5TokenRejected,
    K5Unavailable,
    K5UploadOutcomeUnknown,
)
from .identity import K5Config
from .types import (
    Attachment,
    AvailabilityZone,
    Image,
    Server,
    Snapshot,
    UploadAccepted,
    Volume,
)

__all__ = [
    "Attachment",
    "AvailabilityZone",
    "CallRecord",
    "Endpoint",
    "Image",
    "K5AccessDenied",
    "K5BadRequest",
    "K5Client",
    "K5Config",
    "K5Conflict",
    "K5CredentialError",
    "K5EndpointNotFound",
    "K5Error",
    "K5InvalidResponse",
    "K5NotFound",
    "K5NotSignedIn",
    "K5OutcomeUnknown",
    "K5RateLimited",
    "K5TokenRejected",
    "K5TooSlow",
    "K5Unavailable",
    "K5UploadOutcomeUnknown",
    "Server",
    "Snapshot",
    "UploadAccepted",
    "Volume",
]
