from django.urls import path

from orgs import views

urlpatterns = [
    path("orgs/", views.organizations, name="organizations"),
    path("o/<str:org_id>/", views.organization, name="organization"),
    path("api/app/", views.api_app, name="api-app"),
    path("api/o/<str:org_id>/", views.api_organization, name="api-organization"),
]
