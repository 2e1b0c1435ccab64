# Old rows are given what the constraints of 0008 ask for, in a transaction of their own.

from django.db import migrations, models


def fill_in_existing_rows(apps, schema_editor):
    """Give old rows what the new constraints ask for, keeping what each meant."""
    from django.conf import settings

    Clinic = apps.get_model("patients", "Clinic")
    Reminder = apps.get_model("patients", "Reminder")
    # A clinic with one hour set used the default for the other: write that default down, or clear
    # both where the pair would not make a window.
    for clinic in Clinic.objects.filter(reminder_daytime_start__isnull=True, reminder_daytime_end__isnull=False) | (
        Clinic.objects.filter(reminder_daytime_start__isnull=False, reminder_daytime_end__isnull=True)
    ):
        start = clinic.reminder_daytime_start or settings.REMINDER_DAYTIME_START
        end = clinic.reminder_daytime_end or settings.REMINDER_DAYTIME_END
        if not start < end:
            start = end = None
        clinic.reminder_daytime_start, clinic.reminder_daytime_end = start, end
        clinic.save(update_fields=["reminder_daytime_start", "reminder_daytime_end"])
    Reminder.objects.filter(status="cancelled").update(cancel_reason="withdrawn")
    # Rows written before now announced the visit as it is booked now: each live row was rewritten
    # whenever its appointment moved.
    Reminder.objects.filter(visit__appointment_at__isnull=False).update(
        appointment_at=models.Subquery(
            apps.get_model("patients", "Visit")
            .objects.filter(pk=models.OuterRef("visit_id"))
            .values("appointment_at")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_reminders_follow_the_appointment"),
    ]

    operations = [
        migrations.RunPython(fill_in_existing_rows, migrations.RunPython.noop),
    ]
