"""What keeps patient data out of places it does not belong: browser caches and server logs.

- ``NoStoreMiddleware`` marks every response the application writes ``Cache-Control: no-store``:
  pages, exports and wallet cards carry patient data, and a shared or stolen computer must not
  keep copies. Static files are served before this middleware (whitenoise) and keep their caching.
- ``PatientDataFilter``, on every log handler, cuts the query string from every URL in a record, so
  a search for a patient's name never reaches a log file (``tracker/gunicorn_config.py`` gives
  gunicorn's access log the same rule), and writes an exception's traceback without its message:
  a database or mail server's error often quotes the row or the address it refused. The message
  itself stays where staff can see it behind a sign-in (a reminder's ``last_error``, say).
"""

import logging
import re
import traceback
from collections.abc import Callable
from types import TracebackType

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

# A path followed by a query string, as it appears in a request line or a message.
_QUERY = re.compile(r"(?P<path>/[^\s?\"']*)\?[^\s\"']*")


def without_query_strings(text: str) -> str:
    """``text`` with every URL's query string replaced by ``?…``."""
    return _QUERY.sub(r"\g<path>?…", text)


def traceback_without_messages(error_type: type[BaseException], traceback_: TracebackType | None) -> str:
    """Where the error happened and what kind it was, without what it says."""
    frames = "".join(traceback.format_tb(traceback_))
    name = f"{error_type.__module__}.{error_type.__qualname__}".removeprefix("builtins.")
    return f"Traceback (most recent call last):\n{frames}{name} (its message is left out of the log)"


class PatientDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = traceback_without_messages(record.exc_info[0], record.exc_info[2])
        if isinstance(record.msg, str):
            record.msg = without_query_strings(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(without_query_strings(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                key: without_query_strings(value) if isinstance(value, str) else value
                for key, value in record.args.items()
            }
        return True


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_cache_control(response, private=True, no_store=True)
        response.headers.setdefault("Pragma", "no-cache")
        return response
