from django.urls import path

from orgs import views

urlpatterns = [
    path("orgs/", views.organizations, name="organizations"),
    path("o/<str:org_id>/", views.organization, name="organization"),
]
