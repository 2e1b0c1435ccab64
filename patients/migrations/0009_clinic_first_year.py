"""The year before which a clinic refuses typed dates; existing clinics keep their earliest records valid."""

import django.core.validators
from django.db import migrations, models
from django.db.models import Min

EARLIEST_FIRST_YEAR = 1900


def no_later_than_the_earliest_record(apps, schema_editor):
    """A clinic whose records begin before 2000 keeps them valid: its first year moves back to theirs
    (never before 1900; a row dated earlier is a typing mistake the pages still show)."""
    Clinic = apps.get_model("patients", "Clinic")
    dated = {
        "Placement": ("patient__clinic", ["placed_on", "removed_on"]),
        "Visit": ("patient__clinic", ["completed_on"]),
        "TherapySession": ("patient__clinic", ["held_on"]),
        "Patient": ("clinic", ["discharged_on"]),
        "FollowUpCall": ("patient__clinic", ["called_at"]),
    }
    for clinic in Clinic.objects.all():
        earliest = clinic.first_year
        for model_name, (path, fields) in dated.items():
            rows = apps.get_model("patients", model_name).objects.filter(**{path: clinic})
            found = rows.aggregate(**{name: Min(name) for name in fields})
            earliest = min([earliest, *(value.year for value in found.values() if value is not None)])
        earliest = max(earliest, EARLIEST_FIRST_YEAR)
        if earliest != clinic.first_year:
            Clinic.objects.filter(pk=clinic.pk).update(first_year=earliest)


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0008_reminder_constraints"),
    ]

    operations = [
        migrations.AddField(
            model_name="clinic",
            name="first_year",
            field=models.PositiveSmallIntegerField(
                default=2000,
                help_text="The year of the clinic's earliest records. A placement, session, visit, removal, discharge or call typed before it is refused as a typing mistake. 2000 unless set: before long-acting naltrexone was in clinical use, so no real record is refused; the year the clinic opened is a tighter check.",
                validators=[django.core.validators.MinValueValidator(1900, "The first year cannot be before 1900.")],
            ),
        ),
        migrations.RunPython(no_later_than_the_earliest_record, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="clinic",
            constraint=models.CheckConstraint(
                condition=models.Q(("first_year__gte", 1900)),
                name="clinic_first_year_plausible",
                violation_error_message="The first year cannot be before 1900.",
            ),
        ),
    ]
