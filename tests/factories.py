"""Rows for tests. Placements and visits are made through the services, never by hand, so tests
see the same plans the clinic sees."""

import datetime

import factory
from django.contrib.auth import get_user_model

from patients.models import Clinic, Membership, Patient, Product, TherapyGroup

INDUCTION = {"opioid_free_days": 10, "urine_screen": "negative", "naloxone_challenge": "negative"}


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Clinic {n}")
    time_zone = "Europe/London"
    phone = "020 7946 0000"
    address = "1 High Street, London"
    reply_to_email = "front-desk@clinic.example"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@clinic.example")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Membership.Role.COORDINATOR


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("clinic", "name")

    clinic = factory.SubFactory(ClinicFactory)
    name = "Three-month implant"
    formulation = Product.Formulation.IMPLANT
    coverage_length = 3
    coverage_unit = Product.CoverageUnit.MONTHS
    renewal_window_lead_days = 14


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    record_number = factory.Sequence(lambda n: f"MRN{n:05d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = datetime.date(1985, 6, 15)
    email = factory.LazyAttribute(lambda patient: f"{patient.record_number.lower()}@patients.example")
    email_consent = True
    email_consent_at = factory.LazyFunction(lambda: datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))


class TherapyGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TherapyGroup

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Group {n}")
    facilitator = "Sam Counsellor"
    meets = "Tuesdays 18:00"
