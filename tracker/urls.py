from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Implant monitoring"
admin.site.site_title = "Implant monitoring"
admin.site.index_title = "Clinic records"

urlpatterns = [
    path("admin/", admin.site.urls),
    # The coordinators' dashboard takes this address once it exists; until then, the admin.
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]
