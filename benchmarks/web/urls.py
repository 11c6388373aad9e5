"""The portal's URLs and `/bench/bare/`: a DRF view with the API's authentication, permission
and throttle (the defaults) that answers a constant to a GET, and to a POST parses the JSON
body and answers 201 — what the framework alone costs."""

from django.urls import path
from rest_framework import status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.urls import handler500  # noqa: F401
from portal.urls import urlpatterns as portal_urlpatterns


class Bare(APIView):
    parser_classes = [JSONParser]

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        return Response({"ok": bool(request.data)}, status=status.HTTP_201_CREATED)


urlpatterns = [path("bench/bare/", Bare.as_view()), *portal_urlpatterns]
