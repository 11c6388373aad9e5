from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from imaging.access import roles_in, visible_jobs, visible_projects
from imaging.engine.pacing import Budget, budget
from imaging.models import ACTIVE_STATES, TERMINAL_STATES, Role
from imaging.web.charts import outcome_chart

# The member's role as the dashboard names it (the stored value, translated).
ROLE_NAMES = {
    Role.VIEWER: gettext_lazy("viewer"),
    Role.MEMBER: gettext_lazy("member"),
    Role.ADMIN: gettext_lazy("admin"),
}


@login_required
def dashboard(request):
    user = request.user
    visible = list(visible_projects(user).order_by("name"))
    roles = roles_in(user, visible)
    projects = [
        {
            "project": project,
            "role": _role_name(roles.get(project.pk)),
            "budget": budget_text(budget(project)),
        }
        for project in visible
    ]
    mine = visible_jobs(user).filter(requested_by=user).select_related("project")
    running = list(mine.filter(state__in=ACTIVE_STATES).order_by("created_at")[:20])
    for job in running:
        job.progress = job.progress_estimate()
    recent = mine.filter(state__in=TERMINAL_STATES).order_by("-finished_at")[:10]
    return render(
        request,
        "imaging/dashboard.html",
        {
            "projects": projects,
            "running": running,
            "recent": recent,
            "chart": outcome_chart(visible_jobs(user)),
        },
    )


def _role_name(role: str | None):
    return ROLE_NAMES.get(role, role)


def budget_text(b: Budget) -> str:
    """ "3 of 4 uploads used this hour; next slot 14:05"."""
    if b.window_seconds == 3600:
        text = _("%(used)d of %(limit)d uploads used this hour") % {
            "used": b.used,
            "limit": b.limit,
        }
    elif b.window_seconds % 60 == 0:
        text = _("%(used)d of %(limit)d uploads used in the last %(minutes)d minutes") % {
            "used": b.used,
            "limit": b.limit,
            "minutes": b.window_seconds // 60,
        }
    else:  # a window of 90 s is not "the last 1 minutes"
        text = _("%(used)d of %(limit)d uploads used in the last %(seconds)d seconds") % {
            "used": b.used,
            "limit": b.limit,
            "seconds": b.window_seconds,
        }
    if b.next_slot_at:
        text += _("; next slot %(time)s") % {
            "time": timezone.localtime(b.next_slot_at).strftime("%H:%M")
        }
    return text
