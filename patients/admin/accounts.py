"""Django's own admin for staff accounts and permission groups, with relation fields that refuse
ids no row can have (``patients.admin.access.BoundedRelations``) instead of querying with them."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from patients.admin.access import BoundedRelations

admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class StaffAccountAdmin(BoundedRelations, UserAdmin):
    pass


@admin.register(Group)
class PermissionGroupAdmin(BoundedRelations, GroupAdmin):
    pass
