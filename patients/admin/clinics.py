"""The admin for clinics, their staff, their product catalogue and their therapy groups, each with
its change history on view."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest

from patients import roles
from patients.admin import forms as admin_forms
from patients.admin.access import ClinicScopedAdmin, ManagerAdmin, SuperuserManagedAdmin
from patients.admin.audit_trail import ScopedHistoryAdmin
from patients.models import Clinic, Membership, Product, TherapyGroup

RelatedOnly = admin.RelatedOnlyFieldListFilter


@admin.register(Clinic)
class ClinicAdmin(SuperuserManagedAdmin, ScopedHistoryAdmin):
    form = admin_forms.ClinicForm
    list_display = ("name", "time_zone", "first_year", "phone", "reply_to_email")
    list_filter = ("time_zone",)
    search_fields = ("name",)


@admin.register(Membership)
class MembershipAdmin(ManagerAdmin, ScopedHistoryAdmin):
    action = roles.Action.MANAGE_MEMBERSHIPS
    list_display = ("user", "clinic", "role")
    list_select_related = ("user", "clinic")
    list_filter = ("role", ("clinic", RelatedOnly))
    search_fields = ("user__username", "user__email", "clinic__name")


@admin.register(Product)
class ProductAdmin(ManagerAdmin, ScopedHistoryAdmin):
    # A product's coverage plans every future placement of it: the catalogue is a manager's.
    action = roles.Action.MANAGE_CATALOGUE
    form = admin_forms.ProductForm
    list_display = ("name", "clinic", "formulation", "coverage_length", "coverage_unit", "is_active")
    list_select_related = ("clinic",)
    list_filter = ("formulation", "is_active", ("clinic", RelatedOnly))
    search_fields = ("name",)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        return ("clinic",) if obj else ()  # its placements belong to that clinic's patients

    # Deleting: ManagerAdmin's rule; a product in use is protected by its placements.


@admin.register(TherapyGroup)
class TherapyGroupAdmin(ClinicScopedAdmin, ScopedHistoryAdmin):
    action = roles.Action.LOG_ATTENDANCE
    form = admin_forms.TherapyGroupForm
    list_display = ("name", "clinic", "facilitator", "meets", "member_count", "is_active")
    list_select_related = ("clinic",)
    list_filter = ("is_active", ("clinic", RelatedOnly))
    search_fields = ("name", "facilitator")
    autocomplete_fields = ("members",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).annotate(member_count=Count("members"))

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        return ("clinic",) if obj else ()  # its members and sessions belong to that clinic

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_do(request, obj)  # a group with sessions is protected by them

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, group: Any) -> int:
        return group.member_count
