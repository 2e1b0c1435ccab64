"""The one email helper: every message is three templates under ``templates/emails/``.

``<name>-subject.txt`` (one line), ``<name>-body.txt`` and ``<name>-body.html``. Text templates
turn autoescaping off themselves; the HTML part keeps it.
"""

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def build_email(
    name: str,
    context: Mapping[str, Any],
    *,
    to: Sequence[str],
    from_email: str | None = None,
    reply_to: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
) -> EmailMultiAlternatives:
    """An unsent message; the caller decides when and through which connection it goes."""
    context = dict(context)
    # A template's line breaks must never reach the Subject header, where they would start new headers.
    subject = " ".join(render_to_string(f"emails/{name}-subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}-body.txt", context),
        from_email=from_email,
        to=list(to),
        reply_to=list(reply_to),
        headers=dict(headers or {}),
    )
    message.attach_alternative(render_to_string(f"emails/{name}-body.html", context), "text/html")
    return message


def site_domain() -> str:
    """The site's own domain, from ``SITE_URL``: what Message-IDs and calendar UIDs end with."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"
