from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Signing in: lockout, two-factor codes and idle sign-out. No models of its own."""

    name = "accounts"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.two_factor import remember_enrolment_at_sign_in

        user_logged_in.connect(remember_enrolment_at_sign_in, dispatch_uid="accounts.remember_enrolment")
