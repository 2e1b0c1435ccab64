"""gunicorn settings for production: ``gunicorn -c tracker/gunicorn_config.py tracker.wsgi``.

The access log writes the path without its query string (``%(U)s``, not ``%(r)s``): the patient
list's search travels in the query string, and a patient's name must never reach a log file.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss'
