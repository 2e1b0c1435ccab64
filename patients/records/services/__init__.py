"""The writes of the clinic's records: the person, their placements and visits, and calls about them.

One module per thing written (``patients``, ``placements``, ``visits``), with what they share in
``base``. Every one is re-exported by ``patients.services``, the address pages and commands use.
"""
