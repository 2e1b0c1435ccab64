"""The Django admin for every model, scoped to the clinics a staff member works for.

Clinical records (patients, placements, visits, therapy sessions) are written only by
``patients.services``: their forms call a service (``patients.admin.forms``), the admin never saves
or deletes them itself, and schedule fields are never edited by hand. Their history and the read
log are for reading only (``patients.admin.audit_trail``), and so are the files brought in
(``patients.admin.imports``). Importing the modules
registers their admins.
"""

from patients.admin import accounts, audit_trail, clinics, imports, records

__all__ = ["accounts", "audit_trail", "clinics", "imports", "records"]
