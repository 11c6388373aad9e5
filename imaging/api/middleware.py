"""Bad input at the API's edge gets the API's JSON error (imaging.api.errors), never Django's
HTML 400 page, a 500 or a logged traceback.

Two kinds of input get past DRF's exception handler, because neither raises an APIException:
- a body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django raises RequestDataTooBig when the body is
  read (DRF reads `request.body` to parse it), which Django answers with its HTML 400 and an
  ERROR record on `django.security`. A body whose declared length is over the limit is refused
  here with 413 before anything reads it; the exception is still mapped in case something does.
- JSON nested deeper than Python's recursion limit (`[[[[…]]]]`, 100,000 deep is 200 KB):
  the json decoder raises RecursionError, which would be a 500 with a traceback. Raised while
  a parser reads the body, it is a malformed request: 400 `parse_error`, as for invalid JSON.

Pages are not touched: everything outside /api/ keeps Django's own (HTML) answers.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import JsonResponse

from imaging.api.errors import body

API_PREFIX = "/api/"
PARSER_MODULES = ("rest_framework.parsers",)


class ApiBadInputMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            declared = _declared_length(request)
            if limit is not None and declared > limit:
                return too_large(declared, limit)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, RequestDataTooBig):
            return too_large(_declared_length(request), settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
            return JsonResponse(body("parse_error", f"Malformed request: {exception}"), status=400)
        if isinstance(exception, RecursionError) and _raised_by_a_parser(exception):
            return JsonResponse(
                body("parse_error", "JSON parse error - the document is nested too deeply."),
                status=400,
            )
        return None  # anything else is a bug: Django's 500 handler answers (JSON under /api/)


def too_large(declared: int, limit: int | None) -> JsonResponse:
    return JsonResponse(
        body(
            "request_too_large",
            f"The request body is {declared} bytes; the API accepts at most {limit} bytes.",
        ),
        status=413,
    )


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django and DRF read no body then either


def _raised_by_a_parser(exception: BaseException) -> bool:
    """Whether the exception went through a parser reading the body (as opposed to a bug
    recursing somewhere in a view, which must stay a 500 and be logged)."""
    frame = exception.__traceback__
    while frame is not None:
        if frame.tb_frame.f_globals.get("__name__") in PARSER_MODULES:
            return True
        frame = frame.tb_next
    return False
