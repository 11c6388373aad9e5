from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from imaging import preferences
from imaging.signin import views as signin_views
from portal import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/login/k5/", signin_views.k5_sign_in, name="k5-sign-in"),
    path("accounts/sso/", include("mozilla_django_oidc.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    # The header's language switch also saves the signed-in person's language.
    path("i18n/setlang/", preferences.set_language, name="set_language"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("imaging.api.urls")),
    path("", include("imaging.urls")),
]

handler500 = "imaging.views.server_error"
