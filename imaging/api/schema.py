"""The schema documents the errors each operation can answer, in the one shape they all have,
so that a client generated from it (and schemathesis) knows them: 401, 429 and 503 everywhere,
413 where a body is sent, 400 where there are filters, 404 where there is an id or a page
number, and whatever a view declares itself (403, 409, 503). Query parameters say that an
empty value is no value."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class ApiErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="stable, for tools: e.g. `volume_busy`, "
        "`image_name_taken`, `not_found`, `throttled`"
    )
    message = serializers.CharField(help_text="for people")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="field name: what is wrong with it",
    )


class ApiErrorSerializer(serializers.Serializer):
    error = ApiErrorDetailSerializer()


COMMON = {
    "401": "No token, or an invalid, disabled or expired one (`WWW-Authenticate: Token`).",
    "429": "Too many requests with this token (`throttled`), or too many bad tokens from this "
    "address (`locked_out`): wait as long as `Retry-After` says.",
}
# Anywhere: Redis is down and the request could not be answered without it.
UNAVAILABLE = (
    "The portal's cache or task queue does not answer (`unavailable`): try again after "
    "`Retry-After`. While it is down, a token that is not usable is refused so (the bad-token "
    "lockout cannot count it)."
)
# Only where a body is read: its declared size is over the limit.
TOO_LARGE = "The body is larger than the portal accepts (`request_too_large`)."
BAD_FILTER = "A filter or page parameter could not be read; `fields` names it."
NOT_FOUND = "Not found, or not visible to you."
NO_SUCH_PAGE = "No such page."


class ApiSchema(AutoSchema):
    def _get_parameters(self):
        # An empty query value means "not given" (the pages' GET forms send every field):
        # say so. Not for a repeated choice (?state=&state=failed): there "" is a choice that
        # is not one.
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "query" and not parameter.get("explode"):
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(COMMON)
        if self._get_filter_parameters() or self._get_paginator():
            errors["400"] = BAD_FILTER
        if self.method in ("POST", "PUT", "PATCH"):
            errors["413"] = TOO_LARGE
        if "{" in self.path:
            errors["404"] = NOT_FOUND
        elif self._get_paginator():
            errors["404"] = NO_SUCH_PAGE
        if "503" in responses:  # the view's own (K5 could not be asked), and this one
            responses["503"]["description"] += f"; or: {UNAVAILABLE}"
        else:
            errors["503"] = UNAVAILABLE
        for code, description in errors.items():
            responses.setdefault(code, {"description": description})
        for code, response in responses.items():
            if code >= "400" and "content" not in response:
                error = self._get_response_for_code(ApiErrorSerializer, code, direction=direction)
                response["content"] = error["content"]
        return dict(sorted(responses.items()))
