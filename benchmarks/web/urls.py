"""The portal's URLs and two baselines for the API benchmark, with the API's authentication,
permission and throttle (the defaults):

- `/bench/bare/` answers a constant to a GET, and to a POST parses the JSON body and answers
  201 — what the framework alone costs;
- `/bench/drf-jobs/` is DRF's own generic list and create of the same rows: the jobs' model
  columns that the jobs API shows, by a plain ModelSerializer, in the same pages (count
  included); a POST validates the body and inserts the job — what any DRF endpoint for these
  rows costs, without visibility, K5's checks, zones, audit, queue or forecasts.
"""

from django.urls import path
from rest_framework import serializers, status
from rest_framework.generics import ListCreateAPIView
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from imaging.api.pagination import Pages
from imaging.api.serializers import JobSerializer
from imaging.models import ImageJob
from portal.urls import handler500  # noqa: F401
from portal.urls import urlpatterns as portal_urlpatterns

COLUMNS = {field.name for field in ImageJob._meta.get_fields() if field.concrete}


class Bare(APIView):
    parser_classes = [JSONParser]

    def get(self, request):
        return Response({"ok": True})

    def post(self, request):
        return Response({"ok": bool(request.data)}, status=status.HTTP_201_CREATED)


class PlainJob(serializers.ModelSerializer):
    class Meta:
        model = ImageJob
        fields = [name for name in JobSerializer.Meta.fields if name in COLUMNS]


class DrfJobs(ListCreateAPIView):
    queryset = ImageJob.objects.order_by("-created_at", "-id")
    serializer_class = PlainJob
    pagination_class = Pages
    parser_classes = [JSONParser]

    def perform_create(self, serializer):
        user = self.request.user
        serializer.save(requested_by=user, requested_by_name=user.get_username())


urlpatterns = [
    path("bench/bare/", Bare.as_view()),
    path("bench/drf-jobs/", DrfJobs.as_view()),
    *portal_urlpatterns,
]
