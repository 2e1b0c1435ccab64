from django.apps import AppConfig
from django_otp.plugins.otp_totp import apps as totp_apps


class AccountsConfig(AppConfig):
    """Signing in: lockout, two-factor codes and idle sign-out. No models of its own."""

    default = True
    name = "accounts"
    verbose_name = "Sign-in"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.two_factor import remember_enrolment_at_sign_in

        user_logged_in.connect(remember_enrolment_at_sign_in, dispatch_uid="accounts.remember_enrolment")


class AuthenticatorsConfig(totp_apps.DefaultConfig):
    """django-otp's TOTP devices (``INSTALLED_APPS`` names this class), under a name an
    administrator looks for in the admin."""

    default = False
    verbose_name = "Two-factor sign-in"
