"""Replace an external account's memberships with what its source says, at each sign-in.

Only memberships from that source change: an operator's grant to the same user stays as it
is (and wins: the source's role for that project is ignored). Every membership added, changed
or removed is an audit event of its project (JobEvent, kind "access", no job), so the
project's audit page says who gained or lost access, when, and from which K5 roles or groups.
Memberships whose role did not change only have `synced_at` renewed (no event).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from imaging.models import EventKind, JobEvent, K5Project, Membership, MembershipSource, Role

RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}

# How each source is named in the audit: "through a K5 sign-in (K5 roles: reader)".
VIA = {
    MembershipSource.K5: ("a K5 sign-in", "K5 roles"),
    MembershipSource.OIDC: ("a single sign-on", "groups"),
}


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


def highest(roles) -> Role | None:
    ranked = sorted((Role(r) for r in roles), key=RANK.__getitem__)
    return ranked[-1] if ranked else None


@transaction.atomic
def replace_memberships(
    user, source: str, grants: list[Grant], *, seen: dict[int, tuple[str, ...]] | None = None
) -> list[Change]:
    """Make the user's `source` memberships exactly `grants`. `seen` is what the source said
    about projects it gave no role in (for the audit of a removal)."""
    now = timezone.now()
    seen = seen or {}
    current = {
        m.project_id: m
        for m in Membership.objects.select_for_update().filter(user=user).select_related("project")
    }
    changes = []
    for grant in grants:
        membership = current.pop(grant.project.pk, None)
        if membership is None:
            Membership.objects.create(
                user=user, project=grant.project, role=grant.role, source=source, synced_at=now
            )
            changes.append(Change(grant.project, None, grant.role))
            _audit(user, source, grant.project, None, grant.role, grant.because)
        elif membership.source != source:
            continue  # an operator's grant (or another source's): not ours to change
        else:
            before = membership.role
            Membership.objects.filter(pk=membership.pk).update(role=grant.role, synced_at=now)
            if before != grant.role:
                changes.append(Change(grant.project, before, grant.role))
                _audit(user, source, grant.project, before, grant.role, grant.because)
    for membership in current.values():
        if membership.source != source:
            continue
        membership.delete()
        changes.append(Change(membership.project, membership.role, None))
        because = seen.get(membership.project_id, ())
        _audit(user, source, membership.project, membership.role, None, because)
    return changes


def _audit(user, source, project, before, after, because) -> None:
    via, kind = VIA[MembershipSource(source)]
    named = f"{kind}: {', '.join(because) if because else 'none'}"
    name = user.get_username()
    if before is None:
        message = f"{name} joined the project as {after} through {via} ({named})."
    elif after is None:
        message = (
            f"{name} no longer belongs to the project: at {via}, nothing gave a portal role "
            f"({named})."
        )
    else:
        message = f"{name}'s role changed from {before} to {after} at {via} ({named})."
    JobEvent.record(
        project_id=project.pk,
        job_id=None,
        kind=EventKind.ACCESS,
        message=message,
        actor=user,
        detail={
            "account": name,
            "source": str(source),
            "before": before and str(before),
            "after": after and str(after),
            "because": list(because),
        },
    )
