from django.contrib import admin
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from foundry.api import api


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz),
    path("github/", include("github_data.urls")),
    path("api/v1/", api.urls),
    path("", include("workbench.urls")),
    path("", include("orgs.urls")),
    path("", include("users.urls")),
]
