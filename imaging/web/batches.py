"""Pages for many volumes at once: a batch from the volumes page (its page follows it live),
and a project's schedules (create, change, pause, resume, delete; which images the next run
would delete)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from imaging.access import can_act_on_schedule, can_submit, visible_projects
from imaging.engine.batches import (
    BatchRefused,
    BatchRequest,
    can_act_on_batch,
    cancel_batch,
    create_batch,
    retry_failed,
    summarize,
    summarize_all,
)
from imaging.engine.errors import Refusal
from imaging.engine.inventory import project_inventory
from imaging.engine.remedy import can_cancel, can_retry
from imaging.engine.retention import dry_run
from imaging.engine.schedules import (
    ScheduleRequest,
    change_schedule,
    create_schedule,
    delete_schedule,
    recent_runs,
    set_enabled,
)
from imaging.models import Automation, Batch, Channel, JobState, Schedule
from imaging.models.batches import reason_of
from portal.addresses import client_address


def _batch(request, batch_id) -> Batch:
    return get_object_or_404(
        Batch.objects.filter(project__in=visible_projects(request.user)).select_related(
            "project", "schedule"
        ),
        pk=batch_id,
    )


@login_required
@require_POST
def batch_create(request, project_id):
    project = get_object_or_404(visible_projects(request.user), pk=project_id)
    if not can_submit(request.user, project):
        raise PermissionDenied(
            _("Viewers cannot create images; ask a project admin for the member role.")
        )
    try:
        batch = create_batch(
            BatchRequest(
                project=project,
                volume_ids=request.POST.getlist("volume_ids"),
                image_name_template=request.POST.get("image_name_template", ""),
                preparation_confirmed=bool(request.POST.get("preparation_confirmed")),
                force=bool(request.POST.get("force")),
                all_or_nothing=bool(request.POST.get("all_or_nothing")),
                automation=request.POST.get("automation") or Automation.NONE,
            ),
            user=request.user,
            channel=Channel.WEB,
            client_address=client_address(request),
        )
    except BatchRefused as refused:
        messages.error(request, refused.localized_message)
        for row in refused.refused:
            messages.error(request, f"{row['volume_name'] or row['volume_id']}: {reason_of(row)}")
        return redirect("volumes", project.pk)
    except Refusal as refusal:
        messages.error(request, refusal.localized_message)
        return redirect("volumes", project.pk)
    messages.success(
        request,
        _("Batch %(batch)d queued: %(count)d image job(s).")
        % {"batch": batch.pk, "count": batch.jobs.count()},
    )
    return redirect("batch", batch.pk)


@login_required
def batch_page(request, batch_id):
    batch = _batch(request, batch_id)
    summary = summarize(batch)
    rows = [
        {
            "job": job,
            "forecast": summary.forecasts.get(job.pk),
            "retried": any(other.retry_of_id == job.pk for other in summary.jobs),
        }
        for job in summary.jobs
    ]
    acts = can_act_on_batch(batch, request.user)
    context = {
        "batch": batch,
        "summary": summary,
        "rows": rows,
        "states": [
            (state, label, summary.counts.get(state, 0)) for state, label in JobState.choices
        ],
        "can_cancel": acts and any(can_cancel(job, request.user) for job in summary.current),
        "can_retry": acts and any(can_retry(job, request.user) for job in summary.jobs),
        "done": summary.expected_end is None and batch.prepared_at is not None,
    }
    template = "imaging/_batch_live.html" if request.GET.get("partial") else "imaging/batch.html"
    return render(request, template, context)


def _act(request, batch_id, action):
    batch = _batch(request, batch_id)
    try:
        action(batch)
    except Refusal as refusal:
        if refusal.code == "forbidden":
            raise PermissionDenied(refusal.localized_message) from None
        messages.error(request, refusal.localized_message)
    return redirect("batch", batch.pk)


@login_required
@require_POST
def batch_cancel(request, batch_id):
    def cancel(batch):
        cancelled = cancel_batch(batch, request.user)
        messages.success(request, _("%(count)d job(s) cancelled.") % {"count": len(cancelled)})

    return _act(request, batch_id, cancel)


@login_required
@require_POST
def batch_retry_failed(request, batch_id):
    def retry(batch):
        results = retry_failed(
            batch, request.user, channel=Channel.WEB, client_address=client_address(request)
        )
        retried = [r for r in results if r.new is not None]
        messages.success(request, _("%(count)d job(s) retried.") % {"count": len(retried)})
        for r in results:
            if r.refusal is not None:
                messages.error(request, f"{r.old.image_name}: {r.refusal.localized_message}")

    return _act(request, batch_id, retry)


# --- schedules ----------------------------------------------------------------------------------


class ScheduleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    cron = forms.CharField(
        label=gettext_lazy("When (cron: minute hour day month weekday)"),
        max_length=100,
        initial="0 3 * * 1",
    )
    time_zone = forms.CharField(label=gettext_lazy("Time zone"), max_length=64)
    image_name_template = forms.CharField(
        label=gettext_lazy("Image name template"),
        max_length=255,
        strip=False,
        initial="{volume}-{date}-{time}",
    )
    keep = forms.IntegerField(
        label=gettext_lazy("Images kept per volume"), min_value=1, max_value=1000, initial=4
    )
    force = forms.BooleanField(
        required=False, label=gettext_lazy("Image in-use volumes whose server is stopped (force)")
    )
    preparation_confirmed = forms.BooleanField(
        required=False,
        label=gettext_lazy(
            "Every volume is prepared as the vendor requires (Linux: network settings "
            "removed; Windows: Sysprep run), at every run"
        ),
    )
    automation = forms.ChoiceField(
        label=gettext_lazy("Automation"),
        choices=[
            (Automation.NONE, gettext_lazy("None")),
            (Automation.STOP_START, gettext_lazy("Stop each server for its copy, then start it")),
        ],
        initial=Automation.NONE,
        required=False,
    )


FORM_FIELDS = {
    "name": "name",
    "cron": "cron",
    "timezone": "time_zone",
    "image_name_template": "image_name_template",
    "keep": "keep",
    "preparation_confirmed": "preparation_confirmed",
    "automation": "automation",
}


@login_required
def schedules(request, project_id):
    project = get_object_or_404(visible_projects(request.user), pk=project_id)
    allowed = can_submit(request.user, project)
    form = ScheduleForm(
        request.POST or None, initial={"time_zone": timezone.get_current_timezone_name()}
    )
    rows = project_inventory(project).rows
    chosen = request.POST.getlist("volume_ids")
    if request.method == "POST":
        if not allowed:
            raise PermissionDenied(
                _("Viewers cannot create schedules; ask a project admin for the role.")
            )
        if form.is_valid():
            data = form.cleaned_data
            try:
                schedule = create_schedule(
                    ScheduleRequest(
                        project=project,
                        name=data["name"],
                        volume_ids=chosen,
                        cron=data["cron"],
                        time_zone=data["time_zone"],
                        image_name_template=data["image_name_template"],
                        keep=data["keep"],
                        preparation_confirmed=data["preparation_confirmed"],
                        force=data["force"],
                        automation=data["automation"] or Automation.NONE,
                    ),
                    user=request.user,
                    channel=Channel.WEB,
                )
            except Refusal as refusal:
                form.add_error(FORM_FIELDS.get(refusal.field or ""), refusal.localized_message)
            else:
                messages.success(request, _("Schedule %(name)s created.") % {"name": schedule.name})
                return redirect("schedule", schedule.pk)
    return render(
        request,
        "imaging/schedules.html",
        {
            "project": project,
            "schedules": Schedule.objects.filter(project=project).order_by("name"),
            "form": form,
            "can_submit": allowed,
            "rows": rows,
            "chosen": set(chosen),
        },
    )


def _schedule(request, schedule_id) -> Schedule:
    return get_object_or_404(
        Schedule.objects.filter(project__in=visible_projects(request.user)).select_related(
            "project"
        ),
        pk=schedule_id,
    )


@login_required
def schedule_page(request, schedule_id):
    """The schedule, its runs and the retention dry run; POST changes its settings (the
    creator or a project admin)."""
    schedule = _schedule(request, schedule_id)
    can_manage = can_act_on_schedule(request.user, schedule)
    current = {
        "name": schedule.name,
        "cron": schedule.cron,
        "time_zone": schedule.time_zone,
        "image_name_template": schedule.image_name_template,
        "keep": schedule.keep,
        "force": schedule.force,
        "automation": schedule.automation,
    }
    form = ScheduleForm(request.POST or None, initial=current, prefix="change")
    form.fields["preparation_confirmed"].label = gettext_lazy(
        "Every volume I add is prepared as the vendor requires (Linux: network settings "
        "removed; Windows: Sysprep run), at every run — needed to add volumes or change the "
        "automation"
    )
    offered = form.fields["automation"]
    if schedule.automation not in dict(offered.choices):  # set through the API
        offered.choices = [
            *offered.choices,
            (schedule.automation, schedule.get_automation_display()),
        ]
    chosen = request.POST.getlist("volume_ids") if request.method == "POST" else None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(
                _("Only the member who created this schedule, or a project admin, may do that.")
            )
        if form.is_valid():
            data = dict(form.cleaned_data)
            confirmed = data.pop("preparation_confirmed")
            data["automation"] = data["automation"] or Automation.NONE
            try:
                change_schedule(
                    schedule,
                    request.user,
                    {**data, "volume_ids": chosen},
                    confirmed=confirmed,
                )
            except Refusal as refusal:
                form.add_error(FORM_FIELDS.get(refusal.field or ""), refusal.localized_message)
            else:
                messages.success(request, _("Schedule changed."))
                return redirect("schedule", schedule.pk)
    runs = [(summary.batch, summary) for summary in summarize_all(recent_runs(schedule))]
    return render(
        request,
        "imaging/schedule.html",
        {
            "schedule": schedule,
            "runs": runs,
            "doomed": dry_run(schedule),
            "can_manage": can_manage,
            "form": form,
            "volume_choices": _volume_choices(schedule) if can_manage else [],
            "chosen": set(schedule.volume_ids if chosen is None else chosen),
        },
    )


def _volume_choices(schedule: Schedule) -> list[tuple[str, str]]:
    """(id, label) of the project's volumes from the last K5 list, and the schedule's own
    volumes that list lacks (deleted in K5, or not listed yet), so none is dropped unseen."""
    listed = [
        (row.volume.id, row.volume.name or row.volume.id)
        for row in project_inventory(schedule.project).rows
    ]
    known = {volume_id for volume_id, _label in listed}
    return listed + [(v, v) for v in schedule.volume_ids if v not in known]


@login_required
@require_POST
def schedule_action(request, schedule_id):
    schedule = _schedule(request, schedule_id)
    action = request.POST.get("action")
    try:
        if action == "pause":
            set_enabled(schedule, request.user, False)
            messages.success(request, _("Schedule paused: no run until it is resumed."))
        elif action == "resume":
            set_enabled(schedule, request.user, True)
            messages.success(request, _("Schedule resumed."))
        elif action == "delete":
            project = schedule.project_id
            delete_schedule(schedule, request.user)
            messages.success(request, _("Schedule deleted; its images are kept."))
            return redirect("schedules", project)
    except Refusal as refusal:
        raise PermissionDenied(refusal.localized_message) from None
    return redirect("schedule", schedule.pk)
