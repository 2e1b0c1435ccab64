"""Who may see and change what in the admin: Membership (user, clinic, role) decides, not Django's
model permissions.

Every member of a clinic sees its rows; adding and changing a model's rows needs the role action
its admin names (``ClinicScopedAdmin.action``, from ``patients.roles``), in the row's clinic.
"""

from collections.abc import Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.contrib.auth import get_user_model
from django.db.models import ForeignKey, ManyToManyField, Model, QuerySet
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.http import HttpRequest

from patients import roles
from patients.access import history_clinics, member_clinics
from patients.forms.base import BoundedModelMultipleChoiceField
from patients.models import Clinic, Membership, Patient, Placement, Product, TherapyGroup, TherapySession, Visit
from patients.models.imports import ImportRun
from patients.records.bounds import is_row_id

# How each model reaches its clinic: the one path that scopes lists, choices and object pages.
CLINIC_LOOKUPS: dict[type[Model], str] = {
    Clinic: "pk",
    Membership: "clinic",
    Product: "clinic",
    Patient: "clinic",
    Placement: "patient__clinic",
    Visit: "patient__clinic",
    TherapyGroup: "clinic",
    TherapySession: "patient__clinic",
    ImportRun: "clinic",
}
_CLINIC_IDS_ATTRIBUTE = "_admin_member_clinic_ids"
_HISTORY_CLINIC_IDS_ATTRIBUTE = "_admin_history_clinic_ids"


def member_clinic_ids(request: HttpRequest) -> frozenset[int]:
    """The clinics the user works for, read once per request: one page asks dozens of times."""
    clinic_ids = getattr(request, _CLINIC_IDS_ATTRIBUTE, None)
    if clinic_ids is None:
        if request.user.is_superuser:
            clinic_ids = frozenset(member_clinics(request.user).values_list("pk", flat=True))
        else:  # the same Membership rows that give the user's roles: one query for both
            clinic_ids = frozenset(roles.clinic_roles(request.user))
        setattr(request, _CLINIC_IDS_ATTRIBUTE, clinic_ids)
    return clinic_ids


def history_clinic_ids(request: HttpRequest) -> frozenset[int]:
    """The clinics whose audit trail the user may read (``patients.access.history_clinics``), once per request."""
    clinic_ids = getattr(request, _HISTORY_CLINIC_IDS_ATTRIBUTE, None)
    if clinic_ids is None:
        clinic_ids = frozenset(history_clinics(request.user).values_list("pk", flat=True))
        setattr(request, _HISTORY_CLINIC_IDS_ATTRIBUTE, clinic_ids)
    return clinic_ids


def clinic_of(obj: Model) -> Clinic:
    related: Any = obj
    for name in CLINIC_LOOKUPS[type(obj)].split("__"):
        if name != "pk":
            related = getattr(related, name)
    return related


def scoped_choices(model: type[Model], request: HttpRequest) -> QuerySet[Any]:
    """The rows of ``model`` a form may offer the user: those of their clinics (or all, to a superuser)."""
    rows = model._default_manager.all()
    if request.user.is_superuser:
        return rows
    clinic_ids = member_clinic_ids(request)
    if model is get_user_model():
        return rows.filter(memberships__clinic__in=clinic_ids).distinct()
    if model not in CLINIC_LOOKUPS:
        return rows.none()
    return rows.filter(**{f"{CLINIC_LOOKUPS[model]}__in": clinic_ids})


class BoundedAutocompleteSelect(AutocompleteSelect):
    """The admin's search-as-you-type box, shown again after a refusal: it looks up only the ids
    that a row could have, where Django's own would query with whatever was posted."""

    def optgroups(self, name: str, value: Sequence[str], attrs: dict[str, Any] | None = None) -> Any:
        return super().optgroups(name, [each for each in value if is_row_id(each)], attrs)


class BoundedAutocompleteSelectMultiple(AutocompleteSelectMultiple):
    def optgroups(self, name: str, value: Sequence[str], attrs: dict[str, Any] | None = None) -> Any:
        return super().optgroups(name, [each for each in value if is_row_id(each)], attrs)


class BoundedRelations(admin.ModelAdmin):
    """Relation fields that refuse (and show again) ids no row can have, instead of querying with them."""

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault(
                "widget", BoundedAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        if db_field.name in self.get_autocomplete_fields(request):
            widget = BoundedAutocompleteSelectMultiple(db_field, self.admin_site, using=kwargs.get("using"))
            kwargs.setdefault("widget", widget)
        kwargs.setdefault("form_class", BoundedModelMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ClinicScopedAdmin(BoundedRelations):
    """Access through Membership, whatever the Django model permissions say.

    A superuser sees everything. Other staff see only the rows of the clinics they work for, add
    and change them only where their role allows ``action``, and are offered only those clinics'
    rows in forms. Deleting is refused unless an admin allows it: clinical records are cancelled or
    discharged through the services instead.
    """

    # What adding or changing this model's rows is, in patients.roles' terms.
    action: roles.Action = roles.Action.MANAGE_PATIENTS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        return rows.filter(**{f"{CLINIC_LOOKUPS[self.model]}__in": member_clinic_ids(request)})

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        """None (the admin's "not found") for an id no row can have, and for an empty ``_to_field``."""
        if not from_field and not is_row_id(object_id):
            return None
        return super().get_object(request, object_id, from_field or None)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """Values from the address (``?patient=12``), leaving out ids that no row can have."""
        initial = super().get_changeform_initial_data(request)
        relations = {field.name for field in self.model._meta.get_fields() if field.is_relation}

        def possible(value: Any) -> bool:
            return all(is_row_id(each) for each in (value if isinstance(value, list) else [value]))

        return {name: value for name, value in initial.items() if name not in relations or possible(value)}

    def may_access(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if request.user.is_superuser:
            return True
        clinic_ids = member_clinic_ids(request)
        return bool(clinic_ids) and (obj is None or clinic_of(obj).pk in clinic_ids)

    def may_do(self, request: HttpRequest, obj: Model | None = None, action: roles.Action | None = None) -> bool:
        """Whether the user's role allows ``action`` (this admin's own by default) on ``obj``.

        Without ``obj``: in at least one of their clinics (an add page, a list's buttons).
        """
        if not self.may_access(request, obj):
            return False
        return roles.may(request.user, action or self.action, None if obj is None else clinic_of(obj))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.may_access(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_access(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.may_do(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_do(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        if db_field.related_model is Clinic and not request.user.is_superuser:
            # A new row goes only to a clinic where the user's role allows it.
            kwargs.setdefault("queryset", Clinic.objects.filter(pk__in=roles.clinics_where(request.user, self.action)))
        if isinstance(db_field.related_model, type):
            kwargs.setdefault("queryset", scoped_choices(db_field.related_model, request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        if isinstance(db_field.related_model, type):
            kwargs.setdefault("queryset", scoped_choices(db_field.related_model, request))
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ManagerAdmin(ClinicScopedAdmin):
    """The clinic's own settings, catalogue and staff: every member looks, a manager changes."""

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_do(request, obj)


class SuperuserManagedAdmin(ClinicScopedAdmin):
    """Clinics: staff may look at their own, a manager changes its settings; only a superuser adds
    or removes a clinic."""

    action = roles.Action.MANAGE_CLINIC

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_superuser
