"""Filters shared by the pages and the API, so a filter means the same thing in both."""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from imaging.models import EventKind, ImageJob, JobEvent, JobState

MAX_ID = 2**63 - 1  # BigAutoField; beyond it SQLite cannot even be asked (OverflowError)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """A row's id: a whole number that can be one (NumberFilter alone takes 1.5 or 1e106)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class JobFilterSet(django_filters.FilterSet):
    project = IdFilter(field_name="project_id")
    state = django_filters.MultipleChoiceFilter(choices=JobState.choices)
    volume_id = django_filters.CharFilter()
    requested_by = django_filters.CharFilter(field_name="requested_by_name",
                                             help_text="user name of the requester")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    ordering = django_filters.OrderingFilter(
        fields=(("created_at", "created_at"), ("finished_at", "finished_at"),
                ("state", "state"), ("image_name", "image_name")))

    class Meta:
        model = ImageJob
        fields = ["project", "state", "volume_id", "requested_by", "created_after",
                  "created_before"]


class EventFilterSet(django_filters.FilterSet):
    project = IdFilter(field_name="project_id")
    job = IdFilter(field_name="job_id")
    kind = django_filters.MultipleChoiceFilter(choices=EventKind.choices)
    actor = django_filters.CharFilter(field_name="actor_name")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = JobEvent
        fields = ["project", "job", "kind", "actor", "created_after", "created_before"]
