"""The volumes of a project, and the form that turns one into an image."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from imaging.access import can_submit, visible_projects
from imaging.engine.automation import applicable_automations
from imaging.engine.durations import duration_words
from imaging.engine.errors import Refusal
from imaging.engine.inventory import (
    VolumeRow,
    no_inventory_yet,
    project_inventory,
    request_refresh,
)
from imaging.engine.pacing import budget, next_in_queue
from imaging.engine.submission import submit_job
from imaging.engine.validation import PREPARATION_TEXT, Submission
from imaging.models import Automation, Channel, OsFamily
from imaging.web.dashboard import budget_text
from portal.addresses import client_address

# Refusals that the form can put next to one of its fields.
FORM_FIELDS = {
    "image_name",
    "force",
    "os_stopped_confirmed",
    "os_family",
    "preparation_confirmed",
    "automation",
    "keep_snapshot",
}


def _project(request, project_id):
    return get_object_or_404(visible_projects(request.user), pk=project_id)


def _inventory(project):
    """The last K5 list (waiting a little for the very first one) and what to say about it."""
    inventory = project_inventory(project, wait_for_first=settings.K5_REQUEST_BUDGET_SECONDS)
    if inventory.problem:
        return inventory, inventory.problem
    if not inventory.known:
        return inventory, no_inventory_yet(inventory).localized_message
    return inventory, None


@login_required
def volumes(request, project_id):
    project = _project(request, project_id)
    if request.method == "POST":  # the refresh button: asks a worker, the page follows
        request_refresh(project)
        return redirect(request.get_full_path())
    if request.GET.get("listing"):  # what inventory.js asks while a listing is under way
        inventory = project_inventory(project)
        return JsonResponse(
            {"refreshing": inventory.refreshing, "refreshed_at": inventory.refreshed_at}
        )
    inventory, problem = _inventory(project)
    rows = inventory.rows
    query = request.GET.get("q", "").strip().lower()
    status, zone, eligible = (request.GET.get(k, "") for k in ("status", "zone", "eligible"))
    shown = [
        row
        for row in rows
        if (not query or query in row.volume.name.lower() or query in row.volume.id)
        and (not status or row.volume.status == status)
        and (not zone or row.volume.availability_zone == zone)
        and (not eligible or row.verdict.eligible == (eligible == "yes"))
    ]
    return render(
        request,
        "imaging/volumes.html",
        {
            "project": project,
            "rows": shown,
            "total": len(rows),
            "problem": problem,
            "refreshed_at": inventory.refreshed_at,
            "refreshing": inventory.refreshing,
            "statuses": sorted({row.volume.status for row in rows}),
            "zones": sorted({row.volume.availability_zone or "" for row in rows} - {""}),
            "filters": {
                "q": request.GET.get("q", ""),
                "status": status,
                "zone": zone,
                "eligible": eligible,
            },
            "can_submit": can_submit(request.user, project),
            "budget": budget_text(budget(project)),
        },
    )


class CreateImageForm(forms.Form):
    image_name = forms.CharField(
        label=gettext_lazy("Image name"),
        max_length=255,
        strip=False,
        widget=forms.TextInput(attrs={"maxlength": 255, "size": 50}),
    )
    force = forms.BooleanField(
        required=False,
        label=gettext_lazy("Create the image although the volume is attached (force)"),
    )
    os_stopped_confirmed = forms.BooleanField(
        required=False, label=gettext_lazy("I have stopped the OS of the attached server")
    )
    os_family = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Which OS is on this volume?"),
        choices=[
            ("", "—"),
            (OsFamily.LINUX, "Linux (CentOS, Ubuntu, RHEL)"),
            (OsFamily.WINDOWS, "Windows"),
        ],
    )
    preparation_confirmed = forms.BooleanField(required=False)
    automation = forms.ChoiceField(
        required=False,
        label=gettext_lazy("Automation"),
        choices=Automation.choices,
        initial=Automation.NONE,
    )
    keep_snapshot = forms.BooleanField(
        required=False,
        label=gettext_lazy("Keep the snapshot after the restore (I will delete it myself)"),
    )

    def __init__(self, *args, automations=(Automation.NONE,), **kwargs):
        super().__init__(*args, **kwargs)
        # Only what fits the volume is offered, and accepted.
        field = self.fields["automation"]
        field.choices = [(value, label) for value, label in field.choices if value in automations]


def suggested_name(row: VolumeRow) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return f"{row.volume.name or row.volume.id[:8]}-{stamp}"


@login_required
def create_image(request, project_id, volume_id):
    project = _project(request, project_id)
    if not can_submit(request.user, project):
        raise PermissionDenied(
            _("Viewers cannot create images; ask a project admin for the member role.")
        )
    inventory, problem = _inventory(project)
    row = next((r for r in inventory.rows if r.volume.id == volume_id), None)
    if inventory.known and row is None:
        raise Http404(_("No such volume in this project."))
    family = row.os_family if row else OsFamily.UNKNOWN
    automations = applicable_automations(family, row.server if row else None)
    form = CreateImageForm(
        request.POST or None,
        initial={"image_name": suggested_name(row) if row else ""},
        automations=automations,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        submission = Submission(
            project=project,
            volume_id=volume_id,
            image_name=data["image_name"],
            preparation_confirmed=data["preparation_confirmed"],
            force=data["force"],
            os_stopped_confirmed=data["os_stopped_confirmed"],
            os_family=data["os_family"] or None,
            automation=data["automation"] or Automation.NONE,
            keep_snapshot=data["keep_snapshot"],
        )
        try:
            job, _created = submit_job(
                submission,
                user=request.user,
                channel=Channel.WEB,
                client_address=client_address(request),
            )
        except Refusal as refusal:
            form.add_error(
                refusal.field if refusal.field in FORM_FIELDS else None, refusal.localized_message
            )
        else:
            messages.success(request, _("Image job queued: %(name)s") % {"name": job.image_name})
            return redirect("job", job.pk)
    position, start = next_in_queue(project)
    return render(
        request,
        "imaging/create_image.html",
        {
            "project": project,
            "row": row,
            "form": form,
            "problem": problem,
            "os_family": family,
            "preparation_text": PREPARATION_TEXT,
            "budget": budget(project),
            "budget_text": budget_text(budget(project)),
            "queue_position": position,
            "estimated_start": start,
            "starts_now": start <= timezone.now(),
            "automations": automations,
            "chosen_automation": form["automation"].value() or Automation.NONE,
            "shutdown_wait": duration_words(settings.ENGINE_SHUTDOWN_WAIT_SECONDS),
        },
    )
