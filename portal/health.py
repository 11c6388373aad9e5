"""Liveness and readiness probes.

`/healthz` says the process answers HTTP; it touches neither the database nor K5, so a
database outage does not make a supervisor restart every web process.

`/readyz` says whether the portal can do its work: the database answers, the task broker
answers (the ORM broker's table, or a Redis PING), the engine ticked recently (the heartbeat
row every tick writes) and K5 answered each project's last poll (the row each poll writes).
It never calls K5: a probe every few seconds per web process would spend the project's K5 API
quota and could trip its limits. 200 when every part is fine, else 503 with the failing parts
named in `failing`. `?exclude=k5,engine` leaves parts out (a load balancer deciding where to
send page views should not drop every web process because K5 is down).

Without the monitoring token (METRICS_TOKEN, sent as `Authorization: Bearer …`) the answer
names parts only: K5 project names and error messages are for operators.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import OperationalError, connections
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import database
from portal.monitoring import has_monitoring_token

logger = logging.getLogger(__name__)
Part = dict[str, Any]  # one part's answer: {"ok": bool, ...facts, "error"?: str}
PARTS = ("database", "broker", "cache", "engine", "k5")
# A probe must answer quickly; a write lock held longer than this already slows every page.
WRITE_WAIT_SECONDS = 1.0


@never_cache
@login_not_required
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive and answers HTTP. Nothing else is checked, on purpose."""
    return JsonResponse({"ok": True})


@never_cache
@login_not_required
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    excluded = {
        name.strip() for value in request.GET.getlist("exclude") for name in value.split(",")
    }
    excluded.discard("")
    unknown = excluded - set(PARTS)
    if unknown:
        return JsonResponse(
            {"error": f"unknown part(s) {', '.join(sorted(unknown))}; parts: {', '.join(PARTS)}"},
            status=400,
        )
    detailed = has_monitoring_token(request)
    checks: dict[str, Part] = {}
    failing: list[str] = []
    database_ok = True
    for name, check in _CHECKS.items():
        if name in excluded:
            continue
        result: Part | None
        if name in ("engine", "k5") and not database_ok:
            result = {"ok": False, "error": "not checked: the database does not answer"}
        else:
            try:
                result = check()
            except Exception as exc:
                result = {"ok": False, "error": _describe(exc)}
        if result is None:  # the part does not exist in this set-up (no Redis cache)
            continue
        if name == "database":
            database_ok = result["ok"]
        failed_projects = result.pop("failing", [])
        if not result["ok"]:
            failing.append(name)
            failing.extend(f"k5:{project}" for project in failed_projects if detailed)
        checks[name] = result if detailed else _summary(result)
    body = {"status": "failing" if failing else "ok", "failing": failing, "checks": checks}
    response = JsonResponse(body, status=503 if failing else 200)
    if failing:
        # One line naming the parts instead of Django's bare "Service Unavailable" per probe.
        logger.warning("readyz failing: %s", ", ".join(failing))
        response._has_been_logged = True  # type: ignore[attr-defined] # Django reads it
    return response


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _summary(result: Part) -> Part:
    """What an anonymous caller may see: ok, the kind of error, numbers; no names or messages."""
    shown = {
        key: value
        for key, value in result.items()
        if key in ("ok", "broker", "age_seconds", "max_age_seconds", "projects", "failed")
    }
    if "error" in result:
        shown["error"] = result["error"].split(":", 1)[0]
    return shown


def check_database() -> Part:
    """Answers, and takes a write within a second: under a write lock held by another process
    SQLite still answers reads, while every sign-in and submission would wait and fail."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
    try:
        database.check_writable(WRITE_WAIT_SECONDS)
    except (OperationalError, database.ReadOnly) as exc:
        return {"ok": False, "error": f"cannot write: {exc}"}
    return {"ok": True}


def check_broker() -> Part:
    redis_url = settings.Q_CLUSTER.get("redis")
    kind = "redis" if redis_url else "orm"
    try:
        if redis_url:
            _ping_redis(redis_url)
        else:
            from django_q.models import OrmQ

            OrmQ.objects.using(settings.Q_CLUSTER.get("orm", "default")).exists()
    except Exception as exc:
        return {"ok": False, "broker": kind, "error": _describe(exc)}
    return {"ok": True, "broker": kind}


def check_cache() -> Part | None:
    """The shared Redis cache (API throttling, K5 lists), when there is one."""
    config = settings.CACHES["default"]
    if "redis" not in str(config["BACKEND"]).lower():
        return None
    _ping_redis(str(config["LOCATION"]))
    return {"ok": True}


def _ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        client.ping()
    finally:
        client.close()


def check_engine() -> Part:
    from imaging.models import EngineHeartbeat

    limit = settings.READYZ_MAX_TICK_AGE_SECONDS
    beat = EngineHeartbeat.last()
    if beat is None:
        return {
            "ok": False,
            "error": "the engine has never ticked: is a qcluster running?",
            "max_age_seconds": limit,
        }
    age = _age(beat.ticked_at)
    result: Part = {
        "ok": age <= limit,
        "last_tick": beat.ticked_at.isoformat(),
        "age_seconds": round(age, 1),
        "max_age_seconds": limit,
        "tick_seconds": round(beat.duration, 3),
        "ticked_by": beat.holder,
    }
    if not result["ok"]:
        result["error"] = f"stale: the last tick was {age:.0f} s ago: is a qcluster running?"
    return result


def check_k5() -> Part:
    """Each project as the engine last saw it. A failed poll older than the tick limit is
    history (the project has had nothing to poll since); a rejected credential is not."""
    from imaging.models import K5Project

    limit = settings.READYZ_MAX_TICK_AGE_SECONDS
    projects: dict[str, Part] = {}
    failing: list[str] = []
    for project in K5Project.objects.select_related("last_poll").order_by("name"):
        poll = getattr(project, "last_poll", None)
        state: Part = {"ok": True}
        if poll is not None:
            state["polled_at"] = poll.polled_at.isoformat()
            state["age_seconds"] = round(_age(poll.polled_at), 1)
            if not poll.ok:
                state["error"] = poll.error
                state["ok"] = state["age_seconds"] > limit
            if state["age_seconds"] > limit:
                state["idle"] = True
        else:
            state["idle"] = True
        if project.credentials_invalid_at is not None:
            state["ok"] = False
            state["error"] = project.credentials_error or "K5 rejected the credential"
        projects[project.name] = state
        if not state["ok"]:
            failing.append(project.name)
    result: Part = {
        "ok": not failing,
        "projects": len(projects),
        "failed": len(failing),
        "by_project": projects,
        "failing": failing,
    }
    if failing:
        result["error"] = f"K5 failed at the last poll of {len(failing)} project(s)"
    return result


def _age(moment: datetime) -> float:
    return max((timezone.now() - moment).total_seconds(), 0.0)


_CHECKS: dict[str, Callable[[], Part | None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
    "engine": check_engine,
    "k5": check_k5,
}
