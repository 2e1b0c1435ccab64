"""The only pages open without signing in: what a patient reaches from a link in an email."""

from django.urls import path

from patients.views import public as public_views

app_name = "public"

urlpatterns = [
    path("<str:token>/confirm/", public_views.confirm, name="confirm"),
    path("<str:token>/unsubscribe/", public_views.unsubscribe, name="unsubscribe"),
]
