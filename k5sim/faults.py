"""Injected faults: HTTP-level misbehaviour and failures inside the upload pipeline.

Each fault has `times` uses (default 1; `null` means until cleared), except
`volume_list_omit`, which lasts `seconds` of K5 time from when it is added. HTTP faults are
matched by the server before routing; the other kinds are consumed by uploads.py at the
moment the event they spoil happens. The caller holds the world lock.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from .clock import Clock, zulu_time

KINDS = ("http", "upload_failure", "sync_failure", "volume_vanish", "list_omit", "volume_list_omit")


# What a failed copy leaves behind: a `killed` image, or nothing (Cinder deleted it).
UPLOAD_FAILURE_LEAVES = ("killed", "nothing")
# The sync-failure property as K5 documents it, and the spelling the vendor's page also uses.
SYNC_PROPERTIES = ("sync_status_reason", "sync_reason_status")


class FaultError(ValueError):
    """A fault specification that cannot be used (answered 400 by the control API)."""


@dataclass
class Fault:
    id: str
    kind: str
    spec: dict[str, Any]
    remaining: int | None  # None: unlimited
    used: int = 0
    pattern: re.Pattern | None = None
    until: float | None = None  # sim time a time-bounded fault ends

    def describe(self) -> dict[str, Any]:
        body = {"id": self.id, **self.spec, "remaining": self.remaining, "used": self.used}
        if self.until is not None:
            body["until"] = zulu_time(self.until)
        return body


class FaultBook:
    def __init__(self, clock: Clock) -> None:
        self._faults: list[Fault] = []
        self._clock = clock

    def add(self, spec: Any, zones: list[str]) -> Fault:
        fault = _validated(spec, zones)
        if fault.kind == "volume_list_omit":
            fault.until = self._clock.now() + self._clock.span(spec["seconds"])
        self._faults.append(fault)
        return fault

    def describe(self) -> list[dict[str, Any]]:
        self._drop_ended()
        return [fault.describe() for fault in self._faults]

    def hidden_volumes(self) -> set[str]:
        """Volumes a volume listing leaves out now (volume_list_omit faults)."""
        if not self._faults:
            return set()
        self._drop_ended()
        return {f.spec["volume_id"] for f in self._faults if f.kind == "volume_list_omit"}

    def _drop_ended(self) -> None:
        now = self._clock.now()
        self._faults = [f for f in self._faults if f.until is None or f.until > now]

    def clear(self) -> None:
        self._faults.clear()

    def take_http(self, method: str, path: str, action: str | None = None) -> Fault | None:
        return self._take(
            "http",
            lambda s, f: (
                s.get("method") in (None, method)
                and s.get("action") in (None, action)
                and bool(f.pattern.search(path))
            ),
        )

    def take_upload_failure(self, volume_id: str) -> Fault | None:
        return self._take("upload_failure", lambda s, f: s.get("volume_id") in (None, volume_id))

    def take_sync_failure(self, zone: str, image_id: str) -> Fault | None:
        return self._take(
            "sync_failure", lambda s, f: s["zone"] == zone and s.get("image_id") in (None, image_id)
        )

    def take_list_omit(self, image_id: str) -> Fault | None:
        if not self._faults:  # the image list asks once per image: keep the common case cheap
            return None
        return self._take("list_omit", lambda s, f: s["image_id"] == image_id)

    def take_vanish(self, volume_id: str) -> Fault | None:
        return self._take("volume_vanish", lambda s, f: s["volume_id"] == volume_id)

    def _take(self, kind: str, matches) -> Fault | None:
        for fault in self._faults:
            if fault.kind == kind and matches(fault.spec, fault):
                fault.used += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None


def _validated(spec: Any, zones: list[str]) -> Fault:
    if not isinstance(spec, dict):
        raise FaultError("a fault is a JSON object with a 'kind'")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise FaultError(f"'kind' must be one of {', '.join(KINDS)}")
    allowed = {
        "kind",
        "times",
        *{
            "http": {
                "method",
                "path",
                "action",
                "status",
                "acted",
                "reset",
                "latency",
                "delay_answer",
                "answer_html",
            },
            "upload_failure": {"volume_id", "leaves"},
            "sync_failure": {"zone", "image_id", "property", "after_seconds"},
            "volume_vanish": {"volume_id", "after_seconds"},
            "list_omit": {"image_id"},
            "volume_list_omit": {"volume_id", "seconds"},
        }[kind],
    }
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise FaultError(
            f"unknown key {unknown[0]!r} for a {kind} fault (allowed: {', '.join(sorted(allowed))})"
        )
    if kind == "volume_list_omit" and "times" in spec:
        raise FaultError("a volume_list_omit fault lasts 'seconds'; 'times' does not apply")
    times = None if kind == "volume_list_omit" else spec.get("times", 1)
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise FaultError("'times' must be an integer >= 1, or null for unlimited")
    for key in ("volume_id", "image_id", "method", "action"):
        if key in spec and not (isinstance(spec[key], str) and spec[key]):
            raise FaultError(f"'{key}' must be a non-empty string")
    fault = Fault(id=str(uuid.uuid4()), kind=kind, spec=dict(spec), remaining=times)
    if kind == "http":
        _check_http(spec, fault)
    elif kind == "sync_failure" and spec.get("zone") not in zones:
        raise FaultError(f"'zone' must be one of {', '.join(zones)}")
    elif kind == "sync_failure" and spec.get("property", SYNC_PROPERTIES[0]) not in SYNC_PROPERTIES:
        raise FaultError(f"'property' must be one of {', '.join(SYNC_PROPERTIES)}")
    elif kind == "upload_failure" and spec.get("leaves", "killed") not in UPLOAD_FAILURE_LEAVES:
        raise FaultError(f"'leaves' must be one of {', '.join(UPLOAD_FAILURE_LEAVES)}")
    elif kind == "list_omit" and "image_id" not in spec:
        raise FaultError("a list_omit fault needs 'image_id'")
    elif kind == "volume_list_omit":
        seconds = spec.get("seconds")
        if "volume_id" not in spec:
            raise FaultError("a volume_list_omit fault needs 'volume_id'")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            raise FaultError("a volume_list_omit fault needs 'seconds', a number > 0")
    elif kind == "volume_vanish" and "volume_id" not in spec:
        raise FaultError("a volume_vanish fault needs 'volume_id'")
    after = spec.get("after_seconds")
    if after is not None and (
        isinstance(after, bool) or not isinstance(after, int | float) or after < 0
    ):
        raise FaultError("'after_seconds' must be a number >= 0")
    return fault


def _check_http(spec: dict[str, Any], fault: Fault) -> None:
    path = spec.get("path", "")
    if not isinstance(path, str):
        raise FaultError("'path' must be a regular expression string")
    try:
        fault.pattern = re.compile(path)
    except re.error as error:
        raise FaultError(f"'path' is not a valid regular expression: {error}") from None
    if "method" in spec:
        fault.spec["method"] = spec["method"].upper()
    status = spec.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
    ):
        raise FaultError("'status' must be an HTTP error status (400-599)")
    for key in ("latency", "delay_answer"):
        seconds = spec.get(key)
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0
        ):
            raise FaultError(f"'{key}' must be a number of seconds >= 0")
    for key in ("reset", "acted"):
        if not isinstance(spec.get(key, False), bool):
            raise FaultError(f"'{key}' must be true or false")
    if spec.get("acted") and (status is None or spec.get("reset")):
        raise FaultError("'acted' needs a 'status' (the answer after acting) and no 'reset'")
    answer_html = spec.get("answer_html")
    if answer_html is not None and (
        isinstance(answer_html, bool) or not isinstance(answer_html, int)
    ):
        raise FaultError("'answer_html' must be an HTTP status (200-599)")
    if answer_html is not None and not 200 <= answer_html <= 599:
        raise FaultError("'answer_html' must be an HTTP status (200-599)")
    delay_answer = spec.get("delay_answer")
    for key, value in (("delay_answer", delay_answer), ("answer_html", answer_html)):
        if value is not None and (status is not None or spec.get("reset")):
            # The request is handled for real and only its answer is late or replaced; an
            # injected status or reset means it is not handled at all.
            raise FaultError(f"'{key}' cannot be combined with 'status' or 'reset'")
    if (
        status is None
        and not spec.get("reset")
        and spec.get("latency") is None
        and delay_answer is None
        and answer_html is None
    ):
        raise FaultError(
            "an http fault needs 'status', 'reset', 'latency', 'delay_answer' or 'answer_html'"
        )
