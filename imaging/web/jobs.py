"""The job page (live), the jobs list and the audit history with its exports."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from imaging.access import (
    can_act_on,
    projects_showing_addresses,
    visible_events,
    visible_jobs,
    visible_projects,
)
from imaging.engine.automation import (
    MARKABLE,
    can_restore_now,
    mark_step_done,
    restore_now,
    retry_step,
    shutdown_deadline,
)
from imaging.engine.durations import duration_words
from imaging.engine.errors import Refusal
from imaging.engine.pacing import queue_forecasts
from imaging.engine.remedy import (
    AFTER_TASKS,
    can_cancel,
    can_retry,
    cancel_job,
    queue_retry,
    retry_consequence,
    retry_preview,
    tick_after_task,
)
from imaging.filtersets import EventFilterSet, JobFilterSet
from imaging.models import Automation, Channel, EventKind, JobState, StepState
from imaging.web.audit_export import export_response
from portal.addresses import client_address

MILESTONES = [  # (state, timestamp field) for the timeline
    (JobState.QUEUED, "created_at"),
    (JobState.UPLOADING, "submitted_at"),
    (JobState.VERIFYING, "upload_finished_at"),
    (JobState.SUCCEEDED, "finished_at"),
]


def _job(request, job_id):
    return get_object_or_404(
        visible_jobs(request.user).select_related("project", "retry_of"), pk=job_id
    )


@login_required
def job_page(request, job_id):
    job = _job(request, job_id)
    forecast = queue_forecasts([job]).get(job.pk)
    transitions = list(job.events.filter(kind=EventKind.TRANSITION).order_by("created_at", "id"))
    for event in transitions:  # the timeline names states as the heading does
        event.to_state_label = JobState(event.to_state).label
    elapsed = None
    if job.submitted_at:
        elapsed = int(((job.finished_at or timezone.now()) - job.submitted_at).total_seconds())
    can_act = can_act_on(request.user, job)
    steps = list(job.steps.all())
    for step in steps:  # what a person may do about a step K5 refused
        step.can_retry = can_act and step.state == StepState.FAILED
        step.can_mark_done = step.can_retry and step.name in MARKABLE
    context = {
        "job": job,
        "progress": job.progress_estimate(),
        "forecast": forecast,
        "elapsed": elapsed,
        "zones": job.zones.all(),
        "events": job.events.order_by("created_at", "id"),
        "transitions": transitions,
        "can_act": can_act,
        # A job that ended may still have steps the engine runs (the server started after a
        # failed copy, the snapshot deleted): the page follows them too.
        "live": not job.terminal or job.steps_open,
        "steps": steps,
        "server_name": (job.volume.get("attached_server") or {}).get("name") or job.server_id,
        "can_restore": can_restore_now(job, request.user),
        "shutdown_deadline": shutdown_deadline(job, steps),
        "shutdown_wait": duration_words(settings.ENGINE_SHUTDOWN_WAIT_SECONDS),
        "can_cancel": can_cancel(job, request.user),
        "can_retry": can_retry(job, request.user),
        "retries": job.retries.all(),
        "after_tasks": [
            (key, label, job.after_tasks.get(key)) for key, label in AFTER_TASKS.items()
        ]
        # The tasks a person ticks: only when the portal does not do them itself.
        if job.is_windows and job.automation == Automation.NONE
        else [],
    }
    template = "imaging/_job_live.html" if request.GET.get("partial") else "imaging/job.html"
    return render(request, template, context)


def _act(request, job_id, action):
    job = _job(request, job_id)
    try:
        result = action(job)
    except Refusal as refusal:
        if refusal.code == "forbidden":  # not the requester nor an admin: a 403, as elsewhere
            raise PermissionDenied(refusal.localized_message) from None
        messages.error(request, refusal.localized_message)
        return redirect("job", job.pk)
    return result or redirect("job", job.pk)


@login_required
@require_POST
def job_cancel(request, job_id):
    def cancel(job):
        cancel_job(job, request.user)
        messages.success(request, _("The job was cancelled."))

    return _act(request, job_id, cancel)


@login_required
@require_http_methods(["GET", "POST"])
def job_retry(request, job_id):
    """GET: what the retry will do with the old image, asked of K5 now, before the person
    confirms (and a new name when the image is kept). POST: queue it."""
    if request.method == "GET":
        return _act(request, job_id, lambda job: _retry_page(request, job))

    def retry(job):
        try:
            queued = queue_retry(
                job,
                request.user,
                channel=Channel.WEB,
                client_address=client_address(request),
                image_name=request.POST.get("image_name", "").strip() or None,
            )
        except Refusal as refusal:
            if refusal.field != "image_name":
                raise
            messages.error(request, refusal.localized_message)
            return redirect("job-retry", job.pk)
        new, plan = queued.job, queued.replaces_image
        if plan is None:
            text = _("Retrying as job %(job)d.") % {"job": new.pk}
        elif plan.kept:
            text = _("Retrying as job %(job)d; the old image %(image)s (%(status)s) is kept.") % {
                "job": new.pk,
                "image": plan.id,
                "status": plan.described,
            }
        else:
            text = _(
                "Retrying as job %(job)d; the old image %(image)s is deleted just before the "
                "new upload is sent."
            ) % {"job": new.pk, "image": plan.id}
        messages.success(request, text)
        return redirect("job", new.pk)

    return _act(request, job_id, retry)


def _retry_page(request, job):
    plan = retry_preview(job, request.user)
    return render(
        request,
        "imaging/retry.html",
        {
            "job": job,
            "plan": plan,
            "consequence": retry_consequence(job, plan),
            "image_name": "" if plan is not None and plan.kept else job.image_name,
        },
    )


@login_required
@require_POST
def job_after_task(request, job_id):
    def tick(job):
        tick_after_task(job, request.user, request.POST.get("task", ""))

    return _act(request, job_id, tick)


@login_required
@require_POST
def job_step_retry(request, job_id, step):
    def retry(job):
        retry_step(job, step, request.user)
        messages.success(request, _("The step will be tried again."))

    return _act(request, job_id, retry)


@login_required
@require_POST
def job_step_mark_done(request, job_id, step):
    def mark(job):
        mark_step_done(job, step, request.user)
        messages.success(request, _("The step is marked done; the portal goes on from there."))

    return _act(request, job_id, mark)


@login_required
@require_POST
def job_restore(request, job_id):
    def restore(job):
        restore_now(job, request.user)
        messages.success(
            request,
            _(
                "The portal restores the volume from the snapshot, then starts the server and "
                "deletes the snapshot; follow the steps below."
            ),
        )

    return _act(request, job_id, restore)


@login_required
def job_list(request):
    jobs = visible_jobs(request.user).select_related("project").order_by("-created_at", "-id")
    filters = JobFilterSet(request.GET or None, queryset=jobs)
    filters.filters["project"].field.widget.attrs["aria-label"] = _("Project")
    page = Paginator(filters.qs, 50).get_page(request.GET.get("page"))
    for job in page:
        job.progress = job.progress_estimate()
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "imaging/jobs.html",
        {
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "projects": visible_projects(request.user).order_by("name"),
            "states": JobState.choices,
            "chosen_states": request.GET.getlist("state"),
        },
    )


@login_required
def audit(request):
    events = visible_events(request.user).select_related("project").order_by("-created_at", "-id")
    filters = EventFilterSet(request.GET or None, queryset=events)
    export = request.GET.get("export")
    if export in ("csv", "json"):
        if filters.is_bound and not filters.is_valid():
            # Exporting everything when a filter was mistyped would hand over more than asked.
            problems = "; ".join(
                f"{field}: {' '.join(errors)}" for field, errors in filters.errors.items()
            )
            return HttpResponse(
                f"Not exported: {problems}", status=400, content_type="text/plain; charset=utf-8"
            )
        return export_response(filters.qs, export, projects_showing_addresses(request.user))
    page = Paginator(filters.qs, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "imaging/audit.html",
        {
            "filters": filters,
            "page": page,
            "query": query.urlencode(),
            "projects": visible_projects(request.user).order_by("name"),
            "kinds": EventKind.choices,
        },
    )
