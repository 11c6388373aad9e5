from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from imaging.models import Membership


@login_required
def home(request):
    memberships = (
        Membership.objects.filter(user=request.user).select_related("project").order_by("project__name")
    )
    return render(request, "imaging/home.html", {"memberships": memberships})


@never_cache
def healthz(request):
    """For load balancers and the run script: answers 200 once the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
