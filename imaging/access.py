"""Who may see and do what. One place, used by the engine's services, the pages and the API.

viewer: sees the project's volumes, jobs and history. member: also submits, and cancels or
retries their own jobs. admin: everything in the project, other members' jobs included.
Staff see and act on every project. Someone outside a project must not learn that its
volumes or jobs exist: callers answer 404, not 403, for what `visible_*` leaves out.

A membership counts only while it is in force (`memberships_in_force`): an operator's grant
until it is revoked, one from a sign-in (K5 roles, single sign-on groups) until its max age
has passed without a new sign-in.

People's network addresses in the history (who submitted from where) are for the project's
admins: viewers and members read the same events without them.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from imaging.models import (
    ImageJob,
    JobEvent,
    K5Project,
    Membership,
    MembershipSource,
    Role,
    Schedule,
)

# Keyed like role_in()'s answer, which is None outside the project: .get() ranks that 0.
RANK: dict[str | None, int] = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}


def is_portal_admin(user) -> bool:
    """Staff count as an admin of every project: the one place that says so."""
    return user.is_authenticated and user.is_staff


def memberships_in_force(user) -> QuerySet[Membership]:
    """The user's memberships that grant access now. The one place the max age is applied."""
    now = timezone.now()
    return Membership.objects.filter(user=user).filter(
        Q(source=MembershipSource.OPERATOR)
        | Q(source=MembershipSource.K5, synced_at__gt=now - settings.K5_LOGIN_MAX_AGE)
        | Q(source=MembershipSource.OIDC, synced_at__gt=now - settings.OIDC_LOGIN_MAX_AGE)
    )


def signed_in_elsewhere_without_access(user) -> bool:
    """A K5 or single sign-on account whose memberships have all lapsed: its API tokens stop
    working until the person signs in again (and so proves the source still knows them)."""
    return (
        hasattr(user, "external_account")
        and not is_portal_admin(user)
        and not memberships_in_force(user).exists()
    )


def role_in(user, project: K5Project) -> Role | None:
    return roles_in(user, [project]).get(project.pk)


def roles_in(user, projects) -> dict[int, Role]:
    """The user's role in each of `projects` that they belong to, in one query."""
    if not user.is_authenticated:
        return {}
    if is_portal_admin(user):
        return {project.pk: Role.ADMIN for project in projects}
    memberships = memberships_in_force(user).filter(project__in=projects)
    return {
        project_id: Role(role) for project_id, role in memberships.values_list("project_id", "role")
    }


def visible_projects(user) -> QuerySet[K5Project]:
    if not user.is_authenticated:
        return K5Project.objects.none()
    if is_portal_admin(user):
        return K5Project.objects.all()
    return K5Project.objects.filter(pk__in=memberships_in_force(user).values("project_id"))


def visible_jobs(user) -> QuerySet[ImageJob]:
    return ImageJob.objects.filter(project__in=visible_projects(user))


def visible_events(user) -> QuerySet[JobEvent]:
    return JobEvent.objects.filter(project__in=visible_projects(user))


# The keys of an event's detail that hold a person's network address.
ADDRESS_DETAIL_KEYS = frozenset({"client_address"})


def projects_showing_addresses(user) -> set[int]:
    """The projects whose events show this user people's addresses: those they administer."""
    if is_portal_admin(user):
        return set(K5Project.objects.values_list("pk", flat=True))
    if not user.is_authenticated:
        return set()
    administered = memberships_in_force(user).filter(role=Role.ADMIN)
    return set(administered.values_list("project_id", flat=True))


def event_detail_shown(event: JobEvent, showing_addresses: set[int]) -> dict:
    """The event's detail as a reader sees it (`showing_addresses`: the reader's
    projects_showing_addresses())."""
    detail = event.detail or {}
    if event.project_id in showing_addresses:
        return detail
    return {key: value for key, value in detail.items() if key not in ADDRESS_DETAIL_KEYS}


def can_submit(user, project: K5Project) -> bool:
    return RANK.get(role_in(user, project), 0) >= RANK[Role.MEMBER]


def can_act_on(user, job: ImageJob) -> bool:
    """Cancel, retry, tick off after-image tasks."""
    role = role_in(user, job.project)
    if role == Role.ADMIN:
        return True
    return role == Role.MEMBER and job.requested_by_id == user.pk


def can_act_on_schedule(user, schedule: Schedule) -> bool:
    """Pause, resume, delete: the member who created it, or a project admin."""
    role = role_in(user, schedule.project)
    if role == Role.ADMIN:
        return True
    return role == Role.MEMBER and schedule.created_by_id == user.pk
