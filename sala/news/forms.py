"""The forms of sharing a link: the article's address, then its draft as a topic form."""

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sala.forums.models import Forum


def _forum_choice(**error_messages: str | Promise) -> forms.ModelChoiceField[Forum]:
    return forms.ModelChoiceField(
        label=_("Forum"),
        queryset=Forum.objects.select_related("category"),
        empty_label=_("Choose a forum"),
        error_messages=error_messages,
    )


class ShareLinkForm(forms.Form):
    url = forms.CharField(
        label=_("Article address"),
        max_length=2000,
        help_text=_("Paste the news article's web address; Sala fetches it into a draft."),
        widget=forms.URLInput(attrs={"placeholder": "https://", "autofocus": True}),
        error_messages={"required": _("Paste the address of the article you want to share.")},
    )
    forum = _forum_choice(
        required=_("Choose the forum the article belongs in."),
        invalid_choice=_("That forum doesn't exist; choose one from the list."),
    )


class DraftTopicForm(forms.Form):
    """A shared link's draft, shown as the form that starts a topic, filled in.

    It is only rendered, never bound: the draft page posts it to the forums' own "start
    a topic" page, whose form checks it and whose service writes the topic. So news
    keeps its own copy of the fields (apps share services, not forms) with the names,
    limits and words of that form; a test posts a rendered draft there and compares the
    two pages' fields.
    """

    forum = _forum_choice()
    title = forms.CharField(label=_("Title"), min_length=3, max_length=200)
    source_url = forms.CharField(
        label=_("Source"),
        required=False,
        max_length=2000,
        help_text=_('The web address of the article, shown as a "read more" link.'),
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    text = forms.CharField(
        label=_("Post"),
        max_length=settings.SALA_POST_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10}),
    )
    image = forms.FileField(
        label=_("Add an image"),
        required=False,
        help_text=_("JPEG, PNG, GIF or WebP. It is placed where you put its line."),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}
        ),
    )
    caption = forms.CharField(
        label=_("Image caption"),
        max_length=300,
        required=False,
        help_text=_("Shown under the image and read out to people who can't see it."),
    )
    #: Stops a double submission: the forums' page posts a topic once per key.
    submission_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("submission_key", uuid.uuid4())
