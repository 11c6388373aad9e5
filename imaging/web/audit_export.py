"""The audit history as a file (CSV or JSON), streamed: the events are read from the database a
chunk at a time and written out as they come, so an export of 100,000 events holds no more in
memory than one of 1,000 (benchmarks/audit_export.py measures it) and starts arriving at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import tzinfo

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from django.utils import timezone, translation

from imaging import csv_export
from imaging.access import event_detail_shown
from imaging.messages import render

EXPORT_FIELDS = [
    "id",
    "created_at",
    "project",
    "job",
    "kind",
    "actor",
    "from_state",
    "to_state",
    "code",
    "message",
    "detail",
]
READ_CHUNK = 1000  # events per database fetch
WRITE_CHUNK = 200  # rows per piece handed to the web server


def export_response(events, kind: str, showing_addresses: set[int]) -> StreamingHttpResponse:
    """`events` (a queryset of JobEvent, its project selected) as a CSV (`kind` "csv") or JSON
    download, in the queryset's order; client addresses only for the projects in
    `showing_addresses` (imaging.access.projects_showing_addresses). Messages and times are
    in the requester's language and time zone, fixed now: the rows are written after the
    view has returned."""
    language, zone = translation.get_language(), timezone.get_current_timezone()
    rows = (
        row_of(event, showing_addresses, language=language, zone=zone)
        for event in events.iterator(chunk_size=READ_CHUNK)
    )
    if kind == "json":
        response = StreamingHttpResponse(_json_pieces(rows), content_type="application/json")
    else:
        response = StreamingHttpResponse(_csv_pieces(rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="k5-audit-{stamp}.{kind}"'
    return response


def row_of(
    event, showing_addresses: set[int], *, language: str | None = None, zone: tzinfo | None = None
) -> dict:
    """One event as a row of the export (a dict of EXPORT_FIELDS)."""
    return {
        "id": event.pk,
        "created_at": timezone.localtime(event.created_at, zone).isoformat(),
        "project": event.project.name,
        "job": event.job_id,
        "kind": event.kind,
        "actor": event.actor_name,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "code": event.code,
        "message": render(event.code, event.params, language) if event.code else event.message,
        "detail": event_detail_shown(event, showing_addresses),
    }


class _Line:
    """A file for csv's writer whose write() hands the line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def _csv_pieces(rows: Iterable[dict]) -> Iterator[str]:
    writer = csv_export.SpreadsheetSafeDictWriter(_Line(), fieldnames=EXPORT_FIELDS)
    # The BOM: so spreadsheet programs read Japanese text as UTF-8.
    lines = ["\ufeff" + writer.writeheader()]
    for row in rows:
        detail = json.dumps(row["detail"], ensure_ascii=False, cls=DjangoJSONEncoder)
        lines.append(writer.writerow({**row, "detail": detail}))
        if len(lines) >= WRITE_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def _json_pieces(rows: Iterable[dict]) -> Iterator[str]:
    """One JSON array, written element by element: the same text as
    `json.dumps(list(rows), cls=DjangoJSONEncoder, ensure_ascii=False, indent=1)`."""
    pieces: list[str] = []
    started = False
    for row in rows:
        element = json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False, indent=1)
        # Inside the array each line of an element is indented one step further (a JSON
        # string holds no raw line break, so every "\n" is between two lines of the element).
        pieces.append((",\n " if started else "[\n ") + element.replace("\n", "\n "))
        started = True
        if len(pieces) >= WRITE_CHUNK:
            yield "".join(pieces)
            pieces = []
    pieces.append("\n]" if started else "[]")
    yield "".join(pieces)
