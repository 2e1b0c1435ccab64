"""The sign-in pages the project adds to Django's own (two-factor, keep-alive); all open to the wall."""

from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/start/", views.two_factor_start, name="two_factor_start"),
    path("two-factor/remove/", views.two_factor_remove, name="two_factor_remove"),
    path("two-factor/verify/", views.two_factor_verify, name="two_factor_verify"),
    path("session/", views.session_keepalive, name="session_keepalive"),
]
