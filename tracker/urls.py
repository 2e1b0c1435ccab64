from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Implant monitoring"
admin.site.site_title = "Implant monitoring"
admin.site.index_title = "Clinic records"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Links in patients' emails: the only pages open without signing in.
    path("r/", include("patients.public_urls")),
    # The coordinators' dashboard takes this address once it exists; until then, the admin.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
