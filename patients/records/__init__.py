"""A patient's records: the schedule rules, placements and their plan, coverage, visits, and the
patient list and page that show them.

``schedule``, ``coverage``, ``summary`` and ``timeline`` are pure (``today`` in, no queries, no
models); ``plan`` builds a placement's unsaved rows; ``services`` write; ``queries`` read with a
fixed number of queries; ``bounds`` are the limits on typed dates.
"""
