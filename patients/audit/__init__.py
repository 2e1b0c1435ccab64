"""The audit trail: history for bulk writes and the read log (``services``), a patient's History page
(``queries``), and how long all of it is kept (``retention``)."""
