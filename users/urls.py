from django.urls import include, path

from users import token_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.signin, name="signin"),
    path("signout/", views.signout, name="signout"),
    path("settings/tokens/", token_views.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke/", token_views.revoke, name="revoke_token"),
    # Ours first: social-auth's callback, wrapped (failures, repeats).
    path("complete/<str:backend>/", views.complete, name="complete"),
    path("", include("social_django.urls", namespace="social")),
]
