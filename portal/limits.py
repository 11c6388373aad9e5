"""How much one request may send: every page refuses a body declared larger than
DATA_UPLOAD_MAX_MEMORY_SIZE with a 413 page naming the limit, before anything reads it.

Django's own limit counts form fields only: a file part of a multipart body goes to a
temporary file whatever its size, so without this the anonymous sign-in form took a 60 MB
upload. The portal takes no files at all (DATA_UPLOAD_MAX_NUMBER_FILES = 0). The API answers
the same limit in its JSON error (imaging/api/middleware.py).
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

API_PREFIX = "/api/"


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not request.path.startswith(API_PREFIX) and limit is not None:
            declared = declared_length(request)
            if declared > limit:
                return too_large(request, declared, limit)
        return self.get_response(request)


def too_large(request, declared: int, limit: int):
    return render(
        request,
        "413.html",
        {"sent": filesizeformat(declared), "limit": filesizeformat(limit)},
        status=413,
    )


def declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads no body then either
