from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from imaging.api import errors, views

router = SimpleRouter()
router.register("projects", views.ProjectViewSet, basename="api-project")
router.register("jobs", views.JobViewSet, basename="api-job")

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("api/v1/events/", views.EventListView.as_view(), name="api-events"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ answers JSON, not Django's HTML 404 page.
    re_path(r"^api/", errors.not_found),
]
