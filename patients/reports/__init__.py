"""The reports page: monthly figures per clinic (``figures``, pure), their queries, the page's table (``page``),
charts (``charts``, pure) and CSV exports."""
