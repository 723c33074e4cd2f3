"""The "Share a link" form: an article's address and the forum to discuss it in."""

from django import forms
from django.utils.translation import gettext_lazy as _

from sala.forums.models import Forum


class ShareLinkForm(forms.Form):
    url = forms.CharField(
        label=_("Article address"),
        max_length=2000,
        help_text=_("Paste the news article's web address; Sala fetches it into a draft."),
        widget=forms.URLInput(attrs={"placeholder": "https://", "autofocus": True}),
        error_messages={"required": _("Paste the address of the article you want to share.")},
    )
    forum = forms.ModelChoiceField(
        label=_("Forum"),
        queryset=Forum.objects.select_related("category"),
        empty_label=_("Choose a forum"),
        error_messages={
            "required": _("Choose the forum the article belongs in."),
            "invalid_choice": _("That forum doesn't exist; choose one from the list."),
        },
    )
