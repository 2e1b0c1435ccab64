from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0007_fill_in_reminder_reasons"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="clinic",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("reminder_daytime_end__isnull", True), ("reminder_daytime_start__isnull", True)),
                    models.Q(("reminder_daytime_end__isnull", False), ("reminder_daytime_start__isnull", False)),
                    _connector="OR",
                ),
                name="clinic_daytime_both_or_neither",
                violation_error_message="Set both reminder hours, or leave both empty to use the default hours.",
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    models.Q(("status", "cancelled"), _negated=True), ("appointment_at__isnull", False)
                ),
                fields=("visit", "kind", "appointment_at"),
                name="reminder_one_live_per_appointment",
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.UniqueConstraint(
                condition=models.Q(models.Q(("status", "cancelled"), _negated=True), ("appointment_at__isnull", True)),
                fields=("visit", "kind"),
                name="reminder_one_live_per_unbooked_visit",
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        (
                            "cancel_reason__in",
                            [
                                "consent_withdrawn",
                                "no_email",
                                "discharged",
                                "visit_completed",
                                "visit_cancelled",
                                "visit_missed",
                                "visit_booked",
                                "moved",
                                "replanned",
                                "withdrawn",
                            ],
                        ),
                        ("status", "cancelled"),
                    ),
                    models.Q(models.Q(("status", "cancelled"), _negated=True), ("cancel_reason", "")),
                    _connector="OR",
                ),
                name="reminder_cancel_reason_matches_status",
            ),
        ),
        migrations.AddConstraint(
            model_name="reminder",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "kind__in",
                        [
                            "monitoring_3_days",
                            "monitoring_1_day",
                            "renewal_14_days",
                            "renewal_3_days",
                            "renewal_1_day",
                            "missed_visit",
                            "visit_cancelled",
                            "visit_moved",
                        ],
                    )
                ),
                name="reminder_kind_valid",
            ),
        ),
    ]
