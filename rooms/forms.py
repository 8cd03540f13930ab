from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from rooms import validators


class RoomForm(forms.Form):
    name = forms.CharField(label="Room name", max_length=validators.ROOM_NAME_MAX_LENGTH * 2,
                           help_text="Its address is made from the name, e.g. “Art & Design” → art-design.")
    description = forms.CharField(label="Description (optional)", required=False, strip=False,
                                  widget=forms.TextInput)
    private = forms.BooleanField(label="Private (invite only)", required=False,
                                 help_text="Only people you invite can find it, read it or post in it.")

    def clean_name(self) -> str:
        name, _ = validators.clean_room_name(self.cleaned_data["name"])  # the id is room_create's to make
        return name

    def clean_description(self) -> str:
        return validators.clean_room_description(self.cleaned_data["description"])


class MessageForm(forms.Form):
    comment = forms.CharField(label="Message", strip=False, required=False,
                              widget=forms.Textarea(attrs={"rows": 2, "autocomplete": "off"}))
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False)
    # Set on the page of a public room the user has not joined: their first post joins it.
    join = forms.BooleanField(widget=forms.HiddenInput, required=False)
    # A reply: "<author id>/<message SK>" of the message it answers (static/js/chat/reply.js sets it
    # on the room page; the thread view's composer carries its root's). Empty: not a reply.
    reply_to = forms.CharField(widget=forms.HiddenInput, required=False, max_length=200)

    def clean_comment(self) -> str:
        return validators.clean_comment(self.cleaned_data["comment"])

    def clean_idempotency_key(self) -> str:
        key = self.cleaned_data["idempotency_key"]
        if not validators.is_token(key):
            raise ValidationError("This form is out of date. Your text is kept: send it again.")
        return key


class DeleteForm(forms.Form):
    author = forms.CharField(max_length=200)
    sk = forms.CharField(max_length=200)


class RoomSettingsForm(forms.Form):
    name = forms.CharField(label="Room name", max_length=validators.ROOM_NAME_MAX_LENGTH * 2,
                           help_text="The room keeps its address.")
    description = forms.CharField(label="Description (optional)", required=False, strip=False,
                                  widget=forms.TextInput)

    def clean_name(self) -> str:
        name, _ = validators.clean_room_name(self.cleaned_data["name"])
        return name

    def clean_description(self) -> str:
        return validators.clean_room_description(self.cleaned_data["description"])


class InviteForm(forms.Form):
    username = forms.CharField(label="Invite by username", max_length=200)


class RemoveMemberForm(forms.Form):
    user = forms.CharField(max_length=200)


class DirectForm(forms.Form):
    people = forms.CharField(label="People", max_length=1000,
                             help_text="Usernames, separated by commas or spaces: up to 7 people besides you.")


class NotificationsForm(forms.Form):
    # The words are the ones the room page and its help use; the values are what Notify stores.
    CHOICES = (("all", "All messages"), ("mentions", "Mentions only"), ("none", "Nothing"))
    notify = forms.ChoiceField(label="Notifications", choices=CHOICES, widget=forms.RadioSelect,
                               error_messages={"required": "Choose All messages, Mentions only or Nothing.",
                                               "invalid_choice": "Choose All messages, Mentions only or Nothing."})


class EditForm(forms.Form):
    """An edit of a message: which one (as the delete form), the new text, and the EditVersion the
    editor saw (services.message_edit's condition)."""
    author = forms.CharField(max_length=200, widget=forms.HiddenInput)
    sk = forms.CharField(max_length=200, widget=forms.HiddenInput)
    version = forms.IntegerField(min_value=0, max_value=10_000, widget=forms.HiddenInput)
    # Checked by the service (validators.clean_comment), so the errors are the composer's words.
    comment = forms.CharField(label="Edit message", strip=False, required=False,
                              widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}))
