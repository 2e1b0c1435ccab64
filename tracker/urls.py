from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Implant monitoring"
admin.site.site_title = "Implant monitoring"
admin.site.index_title = "Clinic records"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Links in patients' emails: the only pages open without signing in.
    path("r/", include("patients.public_urls")),
    # Two-factor codes and the session keep-alive (accounts/), then Django's sign-in and sign-out
    # pages, in the project's look (templates/registration/).
    path("accounts/", include("accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("patients.urls")),
]
