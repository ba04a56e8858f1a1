from django.urls import include, path

from users import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.signin, name="signin"),
    path("signout/", views.signout, name="signout"),
    # Ours first: social-auth's callback, wrapped (failures, repeats).
    path("complete/<str:backend>/", views.complete, name="complete"),
    path("", include("social_django.urls", namespace="social")),
]
