"""The audit page's CSV and JSON exports at 1,000 and 100,000 events: peak memory (Python's
allocations, tracemalloc) of one whole export, its time to the first byte and in all — the
streamed export the portal serves beside the export as it was built before (the whole file in
memory, then sent), both measured in this run on the same events.

    .venv/bin/python benchmarks/audit_export.py [--events 1000,100000] [--json PATH]
        [--database-url sqlite | postgres://postgres@127.0.0.1:5432/postgres]

Each export is asked for through Django's test client (the whole middleware stack, DEBUG off)
and read to its end piece by piece, as a web server sends it, keeping nothing. The database is
a throwaway: a temporary SQLite file, or a database created on that PostgreSQL server and
dropped at the end. Goal (tracker issue 17): memory constant in the number of events.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import tempfile
import time
import tracemalloc
from collections import deque
from collections.abc import Iterator

from harness import machine, print_table, set_up_django, throwaway_database, write_json

MESSAGES = [  # as the engine and people write them, with K5's words and Japanese text
    "Requested image 'web-golden-20261201-0930'.",
    "K5 accepted the upload (request req-3f1c9a7e5b2d4c6e8a0b1c2d3e4f5a6b).",
    "Registering it to availability zone jp-east-1b failed: 本番サーバーの同期がタイムアウト.",
    "Cancelled by bob.",
]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", default="1000,10000,100000")
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--json", default=None)
    return parser.parse_args(argv)


@contextlib.contextmanager
def database(url: str, tmp: str) -> Iterator[str]:
    if url == "sqlite":
        yield f"sqlite:///{tmp}/audit-export.sqlite3"
    else:
        with throwaway_database(url) as created:
            yield created


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = sorted(int(n) for n in args.events.split(","))
    with (
        tempfile.TemporaryDirectory(prefix="audit-export-") as tmp,
        database(args.database_url, tmp) as database_url,
    ):
        os.environ.pop("REDIS_URL", None)
        set_up_django(
            {
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "DATABASE_URL": database_url,
                "DJANGO_DEBUG": "false",
                "LOG_LEVEL": "WARNING",
                "PORTAL_VAR_DIR": tmp,
                "ALLOWED_HOSTS": "testserver",
            }
        )
        rows = run(sizes)
        engine = "SQLite" if database_url.startswith("sqlite") else "PostgreSQL"
    print_table(
        f"Audit exports on {engine}: the whole file read by a client (goal: memory constant "
        "in the number of events)",
        ["export", "events", "bytes", "peak MiB", "first byte ms", "total s"],
        [
            [r["export"], r["events"], r["bytes"], r["peak_mib"], r["first_byte_ms"], r["total_s"]]
            for r in rows
        ],
    )
    print_table(
        f"Peak memory against the smallest export ({sizes[0]:,} events) and against the export "
        "as it was, same run",
        [
            "export",
            "events",
            "streamed ÷ streamed smallest",
            "before ÷ before smallest",
            "before ÷ streamed",
        ],
        ratios(rows, sizes),
    )
    write_json("audit_export", {"machine": machine(), "database": engine, "rows": rows}, args.json)
    return 0


def ratios(rows: list[dict], sizes: list[int]) -> list[list[object]]:
    peak = {(r["export"], r["events"]): r["peak_mib"] for r in rows}
    table: list[list[object]] = []
    for kind in ("csv", "json"):
        streamed, before = f"{kind}, streamed", f"{kind}, in memory (before)"
        for size in sizes[1:]:
            table.append(
                [
                    kind,
                    size,
                    round(peak[streamed, size] / peak[streamed, sizes[0]], 2),
                    round(peak[before, size] / peak[before, sizes[0]], 1),
                    round(peak[before, size] / peak[streamed, size], 1),
                ]
            )
    return table


def run(sizes: list[int]) -> list[dict]:
    from django.contrib.auth.models import User
    from django.test import Client

    from imaging.models import K5Project, Membership, Role

    user = User.objects.create_user("bob")
    project = K5Project(
        name="demo-project-1",
        region="jp-east-1",
        identity_url="http://127.0.0.1:9/identity/v3",  # never called: exports ask K5 nothing
        contract="demo",
        k5_project_id="p" * 32,
        username="demo-user",
    )
    project.set_password("not-used")
    project.save()
    Membership.objects.create(user=user, project=project, role=Role.MEMBER)
    client = Client()
    client.force_login(user)

    rows = []
    present = 0
    for size in sizes:
        add_events(project, user, size - present, start=present)
        if not present:  # warm: imports done, templates and URL patterns compiled
            for kind in ("csv", "json"):
                deque(streamed(client, kind), maxlen=0)
                deque(before(client, kind), maxlen=0)
        present = size
        for kind in ("csv", "json"):
            rows.append(measure(f"{kind}, streamed", size, lambda k=kind: streamed(client, k)))
            rows.append(
                measure(f"{kind}, in memory (before)", size, lambda k=kind: before(client, k))
            )
    return rows


def add_events(project, user, count: int, *, start: int) -> None:
    from imaging.models import EventKind, JobEvent

    JobEvent.objects.bulk_create(
        (
            JobEvent(
                project=project,
                kind=EventKind.NOTE,
                actor=user,
                actor_name=user.username,
                message=MESSAGES[n % len(MESSAGES)],
                detail={"zone": "jp-east-1b", "k5_request_id": f"req-{n:032x}", "n": n},
            )
            for n in range(start, start + count)
        ),
        batch_size=5000,
    )


def streamed(client, kind: str) -> Iterator[bytes]:
    response = client.get("/audit/", {"export": kind})
    assert response.status_code == 200 and response.streaming, response
    yield from response.streaming_content


def before(client, kind: str) -> Iterator[bytes]:
    """The same request, answered by the export as the audit page built it before it streamed:
    every row, then the whole file, in memory; then sent."""
    from imaging.web import jobs

    streaming = jobs.export_response
    jobs.export_response = in_memory_export
    try:
        response = client.get("/audit/", {"export": kind})
    finally:
        jobs.export_response = streaming
    assert response.status_code == 200 and not response.streaming, response
    yield from response  # what a web server sends: the body, already whole


def in_memory_export(events, kind, showing_addresses):
    """imaging/web/jobs.py's `_export` until the export streamed, as it was."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder
    from django.http import HttpResponse
    from django.utils import timezone

    from imaging.csv_export import SpreadsheetSafeDictWriter
    from imaging.web.audit_export import EXPORT_FIELDS, row_of

    rows = (row_of(e, showing_addresses) for e in events.iterator(chunk_size=1000))
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if kind == "json":
        response = HttpResponse(
            json.dumps(list(rows), cls=DjangoJSONEncoder, ensure_ascii=False, indent=1),
            content_type="application/json",
        )
    else:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response.write("\ufeff")
        writer = SpreadsheetSafeDictWriter(response, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for row in rows:
            detail = json.dumps(row["detail"], ensure_ascii=False, cls=DjangoJSONEncoder)
            writer.writerow({**row, "detail": detail})
    response["Content-Disposition"] = f'attachment; filename="k5-audit-{stamp}.{kind}"'
    return response


def measure(export: str, events: int, pieces) -> dict:
    """Peak memory in a run under tracemalloc (which slows allocation down), the times in a
    run without it."""
    gc.collect()
    tracemalloc.start()
    size = sum(len(piece) for piece in pieces())
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    began = time.perf_counter()
    first = None
    for _piece in pieces():
        if first is None:
            first = time.perf_counter() - began
    total = time.perf_counter() - began
    return {
        "export": export,
        "events": events,
        "bytes": size,
        "peak_mib": round(peak / 2**20, 2),
        "first_byte_ms": round((first or total) * 1000, 1),
        "total_s": round(total, 2),
    }


if __name__ == "__main__":
    raise SystemExit(main())
