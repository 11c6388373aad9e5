from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from imaging.api import batches, errors, views

router = SimpleRouter()
router.register("projects", views.ProjectViewSet, basename="api-project")
router.register("jobs", views.JobViewSet, basename="api-job")
router.register("batches", batches.BatchViewSet, basename="api-batch")
router.register("schedules", batches.ScheduleViewSet, basename="api-schedule")

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("api/v1/events/", views.EventListView.as_view(), name="api-events"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from this URL (?script=), not inline,
    # and api_docs.html its page styles from a file; Swagger UI's stylesheet draws its icons
    # as data: images, which this page alone allows (an image runs no script).
    path(
        "api/docs/",
        csp_update({"img-src": ["'self'", "data:"]})(
            SpectacularSwaggerSplitView.as_view(
                url_name="api-schema", template_name="imaging/api_docs.html"
            )
        ),
        name="api-docs",
    ),
    # Anything else under /api/ answers JSON, not Django's HTML 404 page.
    re_path(r"^api/", errors.not_found),
]
