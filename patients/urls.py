"""The coordinators' pages. Every one needs a sign-in; rows are found through ``patients.access``."""

from django.urls import path

from patients.views import dashboard, history, imports, patient_pages, record_forms, reports, therapy

app_name = "patients"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("patients/", patient_pages.patient_list, name="patient_list"),
    path("patients/new/", record_forms.patient_create, name="patient_create"),
    path("patients/<uuid:patient_uuid>/", patient_pages.patient_detail, name="patient_detail"),
    path("patients/<uuid:patient_uuid>/edit/", record_forms.patient_edit, name="patient_edit"),
    path("patients/<uuid:patient_uuid>/history/", history.patient_history, name="patient_history"),
    path("patients/<uuid:patient_uuid>/wallet-card/", patient_pages.wallet_card, name="wallet_card"),
    path("patients/<uuid:patient_uuid>/wallet-card.pdf", patient_pages.wallet_card_pdf, name="wallet_card_pdf"),
    path("patients/<uuid:patient_uuid>/placements/new/", record_forms.placement_create, name="placement_create"),
    path("patients/<uuid:patient_uuid>/calls/new/", record_forms.follow_up_call_create, name="follow_up_call_create"),
    path("patients/<uuid:patient_uuid>/sessions/new/", therapy.session_create, name="session_create"),
    path("visits/<uuid:visit_uuid>/findings/", record_forms.visit_findings, name="visit_findings"),
    path("visits/<uuid:visit_uuid>/reschedule/", record_forms.visit_reschedule, name="visit_reschedule"),
    path("groups/", therapy.group_list, name="group_list"),
    path("groups/new/", therapy.group_create, name="group_create"),
    path("groups/<uuid:group_uuid>/", therapy.group_detail, name="group_detail"),
    path("groups/<uuid:group_uuid>/attendance/", therapy.group_attendance, name="group_attendance"),
    path("reports/", reports.reports, name="reports"),
    path("reports/monthly.csv", reports.reports_csv, name="reports_csv"),
    path("reports/patients.csv", reports.patients_csv, name="patients_csv"),
    path("import/", imports.import_start, name="import_start"),
    path("import/<uuid:run_uuid>/", imports.import_detail, name="import_detail"),
    path("import/<uuid:run_uuid>/confirm/", imports.import_confirm, name="import_confirm"),
    # The kind and the extension are checked by the views (a 404 for any other).
    path("import/templates/<slug:kind>.<slug:extension>", imports.import_template, name="import_template"),
    path("import/export/<slug:kind>.<slug:extension>", imports.import_export, name="import_export"),
]
