"""Admin plumbing for records that only ``patients.services`` writes; opening one is logged."""

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from patients.admin import forms as admin_forms
from patients.admin.access import ClinicScopedAdmin, clinic_of
from patients.admin.audit_trail import ScopedHistoryAdmin, record_admin_access
from patients.models import RecordAccess

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec
    from django.contrib.auth.models import User


def acting_user(request: HttpRequest) -> "User":
    """The signed-in member of staff an admin action writes for (``by=`` of the services)."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    return user


class ServiceFormAdmin(ClinicScopedAdmin):
    """A record that only a service writes: its form calls the service, so the admin saves nothing."""

    add_form: type[ModelForm] | None = None
    add_fieldsets: "_FieldsetSpec" = ()

    def get_form(self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None and self.add_form is not None:
            kwargs.setdefault("form", self.add_form)
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form_class, admin_forms.ServiceCallingForm) and request.user.is_authenticated:
            form_class.acting_user = request.user  # a class made for this request alone
        return form_class

    def get_fieldsets(self, request: HttpRequest, obj: Model | None = None) -> Any:
        if obj is None and self.add_fieldsets:
            return self.add_fieldsets
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Model | None) -> Any:
        return () if obj is None else super().get_inlines(request, obj)

    def get_formsets_with_inlines(self, request: HttpRequest, obj: Model | None = None) -> Iterator[Any]:
        # The inlines only show rows. Leaving them out of a POST makes the form's service call the
        # whole save: no formset can fail after the service has written.
        if request.method == "POST":
            return
        yield from super().get_formsets_with_inlines(request, obj)

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        """The form's service call has saved ``obj`` already."""

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return super().change_view(request, object_id, form_url, extra_context)
        # Times are typed and shown in the clinic's zone, the one its patients live in. The page is
        # rendered inside the override, or it would be shown in the server's zone after all.
        with timezone.override(clinic_of(obj).zone):
            response = super().change_view(request, object_id, form_url, extra_context)
            if isinstance(response, TemplateResponse):
                response.render()
        if response.status_code == 200:  # the record was shown (a saved form redirects)
            record_admin_access(request, obj, what=RecordAccess.What.ADMIN_CHANGE)
        return response


class RecordHistoryAdmin(ServiceFormAdmin, ScopedHistoryAdmin):
    """A clinical record written by its service, with its change history on view."""


class ReadOnlyInline(admin.TabularInline):
    """Rows shown under their parent; each changes on its own page, through its service."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True  # the parent's page has checked that the user may see ``obj``

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def run_for_each(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    rows: QuerySet[Any],
    service: Callable[[Any], object],
    done: str,
) -> None:
    """Call a service once per selected row, each in its own transaction; list the refusals."""
    count = 0
    for row in rows:
        try:
            service(row)
        except ValidationError as error:
            model_admin.message_user(request, f"{row}: {' '.join(error.messages)}", messages.WARNING)
        except PermissionDenied as refusal:
            model_admin.message_user(request, f"{row}: {refusal}", messages.WARNING)
        else:
            count += 1
    if count:
        model_admin.message_user(request, f"{done}: {count} {model_ngettext(rows, count)}.", messages.SUCCESS)
