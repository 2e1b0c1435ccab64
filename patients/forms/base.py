"""What the coordinators' record forms share: widgets, staff choices, a clinic's date and time, folded
fieldsets, and the form whose cleaned data are a service's arguments.

The forms check only what a field can check by itself (a date is a date, a choice is a choice).
Every rule about the records is the service's: a refusal comes back as a ``ValidationError`` and
``add_service_error`` puts each message beside the field it names, or on top of the form, so the
page shows it with everything that was typed and nothing saved.
"""

import datetime
import zoneinfo
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Fieldset, Layout
from crispy_forms.utils import TEMPLATE_PACK
from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.safestring import SafeString

from patients.models import Clinic
from patients.records import bounds

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
NOTE_WIDGET = forms.Textarea(attrs={"rows": 2})


def add_service_error(form: forms.BaseForm, error: ValidationError) -> None:
    """Each message beside its field; one about a field the form does not show goes on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.error_dict.items():
        form.add_error(field if field in form.fields else None, messages)


class ServiceArgumentsForm(forms.ModelForm):
    """A ModelForm that never saves: its cleaned data are the keyword arguments of a service, which the
    view calls (the admin's forms call theirs themselves: ``patients.admin.forms.ServiceCallingForm``)."""

    def _post_clean(self) -> None:
        # ModelForm would copy the values onto the instance and run the model's own checks here.
        # The service runs them (and every other rule) itself, so each rule is checked once, in one
        # place, and its refusal arrives through add_service_error in the service's own words.
        pass

    def add_service_error(self, error: ValidationError) -> None:
        add_service_error(self, error)

    def save(self, commit: bool = True) -> Any:
        raise NotImplementedError("Record forms save through patients.services, never by ModelForm.save().")


def form_helper(*layout: Any) -> FormHelper:
    """A crispy helper for a form whose page supplies the <form> tag and its buttons."""
    helper = FormHelper()
    helper.form_tag = False
    helper.layout = Layout(*layout)
    return helper


def clinic_staff(clinics: QuerySet[Clinic]) -> QuerySet[User]:
    """The people who work for these clinics: who may place, see, or counsel their patients."""
    return (
        User.objects.filter(memberships__clinic__in=clinics, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Several rows by their numbers; a number no row can have is refused before any query (SQLite
    cannot even compare a number past 64 bits with a column)."""

    def _check_values(self, value: Any) -> Any:
        if self.to_field_name is None and isinstance(value, list | tuple):
            for each in value:
                if not bounds.is_row_id(each):
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": each}
                    )
        return super()._check_values(value)  # type: ignore[misc]


class StaffChoiceField(forms.ModelChoiceField):
    """A member of staff, by the name colleagues know them by."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.get_username())


def use_staff_choices(field: forms.Field, clinics: QuerySet[Clinic]) -> None:
    """Limit a ``StaffChoiceField`` (set in the form's ``Meta.field_classes``) to these clinics' staff."""
    assert isinstance(field, StaffChoiceField)
    field.queryset = clinic_staff(clinics)


class Details(Fieldset):
    """Optional fields folded into a ``<details>`` element, which opens and closes without JavaScript.

    It opens by itself when one of its fields holds an error or a changed value, so nothing typed
    or refused is ever hidden from the coordinator.
    """

    template = "patients/forms/layout/details.html"
    is_open = False

    def render(
        self, form: forms.BaseForm, context: Any, template_pack: str = TEMPLATE_PACK, **kwargs: Any
    ) -> SafeString:
        names = [name for name in self.fields if isinstance(name, str)]
        touched = form.is_bound and any(form.errors.get(name) or name in form.changed_data for name in names)
        self.is_open = touched
        return super().render(form, context, template_pack, **kwargs)


class ClinicDateTimeField(forms.DateTimeField):
    """A date and time typed, and shown, in the clinic's zone whatever zone the server runs in."""

    def __init__(self, *, zone: zoneinfo.ZoneInfo, **kwargs: Any) -> None:
        self.zone = zone
        kwargs.setdefault("widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> datetime.datetime | None:
        with timezone.override(self.zone):
            return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        with timezone.override(self.zone):
            return super().prepare_value(value)
