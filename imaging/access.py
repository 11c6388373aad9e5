"""Who may see and do what. One place, used by the engine's services, the pages and the API.

viewer: sees the project's volumes, jobs and history. member: also submits, and cancels or
retries their own jobs. admin: everything in the project, other members' jobs included.
Staff see and act on every project. Someone outside a project must not learn that its
volumes or jobs exist: callers answer 404, not 403, for what `visible_*` leaves out.
"""

from __future__ import annotations

from django.db.models import QuerySet

from imaging.models import ImageJob, JobEvent, K5Project, Membership, Role

# Keyed like role_in()'s answer, which is None outside the project: .get() ranks that 0.
RANK: dict[str | None, int] = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}


def role_in(user, project: K5Project) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_staff:
        return Role.ADMIN
    return (
        Membership.objects.filter(user=user, project=project).values_list("role", flat=True).first()
    )


def visible_projects(user) -> QuerySet[K5Project]:
    if not user.is_authenticated:
        return K5Project.objects.none()
    if user.is_staff:
        return K5Project.objects.all()
    return K5Project.objects.filter(memberships__user=user)


def visible_jobs(user) -> QuerySet[ImageJob]:
    return ImageJob.objects.filter(project__in=visible_projects(user))


def visible_events(user) -> QuerySet[JobEvent]:
    return JobEvent.objects.filter(project__in=visible_projects(user))


def can_submit(user, project: K5Project) -> bool:
    return RANK.get(role_in(user, project), 0) >= RANK[Role.MEMBER]


def can_act_on(user, job: ImageJob) -> bool:
    """Cancel, retry, tick off after-image tasks."""
    role = role_in(user, job.project)
    if role == Role.ADMIN:
        return True
    return role == Role.MEMBER and job.requested_by_id == user.pk
