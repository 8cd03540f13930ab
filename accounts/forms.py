"""Forms check what a person typed; accounts.services does the writing."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation

from accounts.validators import (DISPLAY_NAME_MAX_LENGTH, USERNAME_MAX_LENGTH, PasswordOwner,
                                 clean_display_name, validate_new_username)

PASSWORD_MAX_LENGTH = 1024  # Argon2 is costly; don't hash megabytes


def _password_field(label: str, *, autocomplete: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(label=label, strip=False, max_length=PASSWORD_MAX_LENGTH, help_text=help_text,
                           widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}))


class _NewPasswordMixin:
    """Two new-password fields that must match and pass AUTH_PASSWORD_VALIDATORS."""

    def _clean_new_passwords(self, first: str, second: str, *, username: str, display_name: str) -> None:
        password1 = self.cleaned_data.get(first)
        password2 = self.cleaned_data.get(second)
        if password1 and password2 and password1 != password2:
            self.add_error(second, "The two passwords don't match.")
            return
        if password1:
            person = PasswordOwner(username=username, display_name=display_name)
            try:
                password_validation.validate_password(password1, user=person)
            except forms.ValidationError as error:
                self.add_error(first, error)


class SignUpForm(_NewPasswordMixin, forms.Form):
    username = forms.CharField(
        label="Username", max_length=USERNAME_MAX_LENGTH, strip=False,
        help_text=f"Up to {USERNAME_MAX_LENGTH} letters, digits, “.”, “_” or “-”. Capitals don't make it a "
                  f"different name.",
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none",
                                      "spellcheck": "false"}))
    display_name = forms.CharField(label="Display name", max_length=DISPLAY_NAME_MAX_LENGTH,
                                   help_text="What others see next to your messages.",
                                   widget=forms.TextInput(attrs={"autocomplete": "nickname"}))
    password1 = _password_field("Password", autocomplete="new-password",
                                help_text=password_validation.password_validators_help_text_html())
    password2 = _password_field("Password again", autocomplete="new-password")

    def clean_username(self) -> str:
        validate_new_username(self.cleaned_data["username"])
        return self.cleaned_data["username"]

    def clean_display_name(self) -> str:
        return clean_display_name(self.cleaned_data["display_name"])

    def clean(self):
        cleaned = super().clean()
        self._clean_new_passwords("password1", "password2", username=cleaned.get("username", ""),
                                  display_name=cleaned.get("display_name", ""))
        return cleaned


class SignInForm(forms.Form):
    username = forms.CharField(label="Username", max_length=USERNAME_MAX_LENGTH, strip=True,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True,
                                                             "autocapitalize": "none", "spellcheck": "false"}))
    password = _password_field("Password", autocomplete="current-password")


class ProfileForm(forms.Form):
    display_name = forms.CharField(label="Display name", max_length=DISPLAY_NAME_MAX_LENGTH,
                                   widget=forms.TextInput(attrs={"autocomplete": "nickname"}))

    def clean_display_name(self) -> str:
        return clean_display_name(self.cleaned_data["display_name"])


class PasswordChangeForm(_NewPasswordMixin, forms.Form):
    old_password = _password_field("Current password", autocomplete="current-password")
    new_password1 = _password_field("New password", autocomplete="new-password",
                                    help_text=password_validation.password_validators_help_text_html())
    new_password2 = _password_field("New password again", autocomplete="new-password")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        cleaned = super().clean()
        self._clean_new_passwords("new_password1", "new_password2", username=self.user.username,
                                  display_name=self.user.display_name)
        return cleaned


class DeviceLinkRedeemForm(forms.Form):
    code = forms.CharField(label="Code", max_length=20,
                           help_text="The eight characters shown on your signed-in device, e.g. 7KQ2-M9XD.",
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize":
                                                         "characters", "spellcheck": "false"}))
