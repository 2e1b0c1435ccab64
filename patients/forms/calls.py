"""The follow-up call form: what a coordinator types after phoning a patient; a view hands it to
``log_follow_up_call``."""

from typing import Any

from django import forms

from patients.forms.base import DATE_WIDGET, NOTE_WIDGET, ServiceArgumentsForm, form_helper
from patients.models import FollowUpCall


class FollowUpCallForm(ServiceArgumentsForm):
    """The arguments of ``log_follow_up_call`` that a coordinator types."""

    class Meta:
        model = FollowUpCall
        fields = ("outcome", "note", "try_again_on")
        widgets = {"outcome": forms.RadioSelect, "try_again_on": DATE_WIDGET, "note": NOTE_WIDGET}
        labels = {"try_again_on": "Try again on"}
        help_texts = {"try_again_on": "The worklist hides the patient until then."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = form_helper("outcome", "note", "try_again_on")
