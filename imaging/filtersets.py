"""Filters shared by the pages and the API, so a filter means the same thing in both."""

from __future__ import annotations

from datetime import UTC, datetime

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from imaging.models import EventKind, ImageJob, JobEvent, JobState


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 may carry any offset below 24 h; PostgreSQL takes none beyond 15:59. The moment
    is compared in UTC, and one that UTC cannot hold (just before year 1, just after 9999)
    becomes the first or last moment there is: no row lies beyond them."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            return (
                datetime.min.replace(tzinfo=UTC)
                if moment.year == 1
                else (datetime.max.replace(tzinfo=UTC))
            )


class MomentFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class StableOrderingFilter(django_filters.OrderingFilter):
    """The order asked for, ties broken by the newest id: rows that tie (same state, same
    name) must not move between pages while a tool walks them. Nothing usable asked for
    (`?ordering=,`) keeps the list's own order instead of none."""

    def filter(self, qs, value):
        fields = [self.get_ordering_value(param) for param in value or [] if param]
        if not fields:
            return qs
        return qs.order_by(*fields, "-id")


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
    requested_by = django_filters.CharFilter(
        field_name="requested_by_name", help_text="user name of the requester"
    )
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")
    ordering = StableOrderingFilter(
        fields=(
            ("created_at", "created_at"),
            ("finished_at", "finished_at"),
            ("state", "state"),
            ("image_name", "image_name"),
        )
    )

    class Meta:
        model = ImageJob
        fields = [
            "project",
            "state",
            "volume_id",
            "requested_by",
            "created_after",
            "created_before",
        ]


class EventFilterSet(django_filters.FilterSet):
    project = IdFilter(field_name="project_id")
    job = IdFilter(field_name="job_id")
    kind = django_filters.MultipleChoiceFilter(choices=EventKind.choices)
    actor = django_filters.CharFilter(field_name="actor_name")
    created_after = MomentFilter(field_name="created_at", lookup_expr="gte")
    created_before = MomentFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = JobEvent
        fields = ["project", "job", "kind", "actor", "created_after", "created_before"]
