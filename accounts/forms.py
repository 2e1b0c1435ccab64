"""The one field the two-factor pages ask for: a code from the authenticator app."""

from django import forms


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True, "size": 8}
        ),
    )

    def clean_code(self) -> str:
        # Apps show the code in two groups ("123 456"); people type it as they see it.
        code = "".join(self.cleaned_data["code"].split())
        if not code.isdigit() or len(code) not in (6, 8):
            raise forms.ValidationError("Enter the 6 digits your authenticator app shows now.")
        return code
