"""Every error from /api/ is JSON of one shape, never an HTML page or a traceback:

{"error": {"code": "image_name_taken", "message": "…", "fields": {"image_name": ["…"]}}}
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

from imaging.api.unavailable import Unavailable
from imaging.engine.errors import CONFLICT_CODES, Refusal
from portal import outage

logger = logging.getLogger(__name__)

REFUSAL_STATUS = {"not_found": 404, "forbidden": 403, "k5_unavailable": 503}


def body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def refusal_status(refusal: Refusal) -> int:
    if refusal.code in CONFLICT_CODES:
        return status.HTTP_409_CONFLICT
    return REFUSAL_STATUS.get(refusal.code, status.HTTP_400_BAD_REQUEST)


def handle(exc, context):
    _answer_in_json(context.get("request"))
    # Django's own exceptions, as DRF would convert them, but with our code and a message
    # that names no model ("No K5Project matches the given query" tells outsiders too much).
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found, or not visible to you.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if outage.is_outage(exc):
        request = context.get("request")
        outage.log_outage(exc, request.path if request is not None else "-")
        exc = Unavailable()
    if isinstance(exc, Refusal):
        fields = getattr(exc, "fields", None) or ({exc.field: [exc.message]} if exc.field else {})
        response = Response(body(exc.code, exc.message, fields), status=refusal_status(exc))
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(exc.retry_after)
        return response
    response = exception_handler(exc, context)
    if isinstance(exc, Unavailable) and response is not None:
        # Logged already, as a WARNING without a traceback: not Django's ERROR per request
        # while Redis is down.
        response._has_been_logged = True  # type: ignore[attr-defined]
    if response is None:
        return None  # a bug: Django's 500 handler answers (JSON under /api/, see below)
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {str(name): _messages(value) for name, value in detail.items()}
        first = next((found for found in fields.values() if found), ["Invalid input."])
        response.data = body("invalid", first[0], fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = body(str(code), str(detail))
    return response


def _answer_in_json(request) -> None:
    """An error is JSON even when the caller asked for CSV (or HTML): tools parse it."""
    if request is not None and not isinstance(
        getattr(request, "accepted_renderer", None), JSONRenderer
    ):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type


def _messages(value, where: str = "") -> list[str]:
    """A field's errors as the documented list of strings, whatever DRF nested them in: a
    list's items by index ("[3]: …"), a nested object's fields by name ("zone: …")."""
    if isinstance(value, dict):
        return [
            message
            for key, inner in value.items()
            for message in _messages(
                inner, f"{where}{f'[{key}]' if isinstance(key, int) else key}: "
            )
        ]
    if isinstance(value, list):
        return [message for inner in value for message in _messages(inner, where)]
    return [f"{where}{value}"]


@csrf_exempt  # it changes nothing; else a POST here gets Django's HTML CSRF page, not JSON
def not_found(request, *args, **kwargs):
    message = f"No API endpoint at {request.path}."
    if not request.path.endswith("/") and _is_endpoint(request.path + "/"):
        message += f" Did you mean {request.path}/ (with the slash)?"
    return JsonResponse(body("not_found", message), status=404)


def _is_endpoint(path: str) -> bool:
    try:
        return resolve(path).func is not not_found
    except Resolver404:
        return False


def server_error(request, *args, **kwargs):
    return JsonResponse(
        body(
            "server_error",
            "Something went wrong on our side; it has been "
            "logged. Try again, or report the time of the request.",
        ),
        status=500,
    )
