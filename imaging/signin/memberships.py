"""Replace an external account's memberships with what its source says, at each sign-in.

Only memberships from that source change, and only for the projects the sign-in speaks for
(a K5 sign-in: those of its region and identity endpoint): an operator's grant to the same user
stays as it is (and wins: the source's role for that project is ignored), and so do the
source's memberships of other projects. Every membership added, changed or removed is an audit
event of its project (JobEvent, kind "access", no job), so the project's audit page says who
gained or lost access, when, and from which K5 roles or groups; its detail (`sign_in`) says
how many projects that sign-in added, changed, removed and kept — counts, not names: every
viewer of one project reads its events and exports, and which other projects a person holds is
not theirs to learn. The names go to the operators' log (`imaging.signin`). Memberships whose
role did not change only have `synced_at` renewed (no event).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from imaging.messages import Said, said
from imaging.models import EventKind, JobEvent, K5Project, Membership, MembershipSource, Role

logger = logging.getLogger("imaging.signin")

RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}

# The access events' codes (imaging/messages.py) by source: "access.joined_k5", ….
SAID_AS = {MembershipSource.K5: "k5", MembershipSource.OIDC: "sso"}


def _role(role) -> Said:
    """A portal role as a word of the reader's language (nested in the event's params)."""
    return said(f"access.role.{role}")


@dataclass(frozen=True)
class Grant:
    """What the source says about one project: the portal role, and why."""

    project: K5Project
    role: Role
    because: tuple[str, ...]  # the K5 roles or groups that gave it


@dataclass(frozen=True)
class Change:
    project: K5Project
    before: str | None
    after: str | None
    because: tuple[str, ...] = ()  # the K5 roles or groups the source named for the project


def highest(roles) -> Role | None:
    ranked = sorted((Role(r) for r in roles), key=RANK.__getitem__)
    return ranked[-1] if ranked else None


@transaction.atomic
def replace_memberships(
    user,
    source: str,
    grants: list[Grant],
    *,
    within: Collection[int] | None = None,
    seen: dict[int, tuple[str, ...]] | None = None,
    at: dict[str, str] | None = None,
) -> list[Change]:
    """Make the user's `source` memberships of the projects `within` (primary keys; None: every
    project) exactly `grants`; the source's memberships of other projects are kept as they are.

    `seen` is what the source said about projects it gave no role in (for the audit of a
    removal); `at` says where the sign-in was (region, identity endpoint) for the audit. Each
    event also names every project the sign-in added, changed, removed and kept.
    """
    now = timezone.now()
    seen = seen or {}
    current = {
        m.project_id: m
        for m in Membership.objects.select_for_update().filter(user=user).select_related("project")
    }
    changes, renewed = [], []
    for grant in grants:
        membership = current.pop(grant.project.pk, None)
        if membership is None:
            changes.append(Change(grant.project, None, grant.role, grant.because))
        elif membership.source != source:
            continue  # an operator's grant (or another source's): not ours to change
        elif membership.role != grant.role:
            changes.append(Change(grant.project, membership.role, grant.role, grant.because))
        else:
            renewed.append(membership)
    kept = [m.project for m in renewed]
    for membership in current.values():
        if membership.source != source:
            continue
        if within is not None and membership.project_id not in within:
            kept.append(membership.project)  # the sign-in said nothing about it
            continue
        because = seen.get(membership.project_id, ())
        changes.append(Change(membership.project, membership.role, None, because))

    Membership.objects.filter(pk__in=[m.pk for m in renewed]).update(synced_at=now)
    for change in changes:
        if change.after is None:
            Membership.objects.filter(user=user, project=change.project).delete()
        elif change.before is None:
            Membership.objects.create(
                user=user, project=change.project, role=change.after, source=source, synced_at=now
            )
        else:
            Membership.objects.filter(user=user, project=change.project).update(
                role=change.after, synced_at=now
            )
    named = _named(changes, kept)
    if changes:
        logger.info(
            "%s sign-in of %s%s: %s",
            source,
            user.get_username(),
            "".join(f" {key}={value}" for key, value in (at or {}).items()),
            "; ".join(f"{what}: {', '.join(names) or '-'}" for what, names in named.items()),
        )
    summary = {**(at or {}), **{what: len(names) for what, names in named.items()}}
    for change in changes:
        _audit(user, source, change, summary)
    return changes


def _named(changes: list[Change], kept: list[K5Project]) -> dict[str, list[str]]:
    """The projects of one sign-in by what happened to them, by name."""
    names: dict[str, list[str]] = {"added": [], "changed": [], "removed": [], "kept": []}
    for change in changes:
        if change.before is None:
            names["added"].append(change.project.name)
        elif change.after is None:
            names["removed"].append(change.project.name)
        else:
            names["changed"].append(change.project.name)
    names["kept"] = [project.name for project in kept]
    return {what: sorted(listed) for what, listed in names.items()}


def _audit(user, source, change: Change, summary: dict) -> None:
    before, after = change.before, change.after
    where = SAID_AS[MembershipSource(source)]
    because = ", ".join(change.because) if change.because else said("access.none")
    name = user.get_username()
    if before is None:
        message = said(f"access.joined_{where}", account=name, role=_role(after), because=because)
    elif after is None:
        message = said(f"access.left_{where}", account=name, because=because)
    else:
        message = said(
            f"access.role_changed_{where}",
            account=name,
            before=_role(before),
            after=_role(after),
            because=because,
        )
    JobEvent.record(
        project_id=change.project.pk,
        job_id=None,
        kind=EventKind.ACCESS,
        message=message,
        actor=user,
        detail={
            "account": name,
            "source": str(source),
            "before": before and str(before),
            "after": after and str(after),
            "because": list(change.because),
            "sign_in": summary,
        },
    )
