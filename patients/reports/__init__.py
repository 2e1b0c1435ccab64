"""The reports page: monthly figures per clinic (``figures``, pure), their queries, charts and exports."""
