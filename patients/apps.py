from django.apps import AppConfig


class PatientsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "patients"
    verbose_name = "Patients and placements"

    def ready(self) -> None:
        from patients.reports import kept

        # Each change to the records the reports read drops the figures kept from them.
        kept.connect()
