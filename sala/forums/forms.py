"""Forms for starting topics, replying and editing; they validate, services write."""

import unicodedata
import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sala.forums.models import Forum, validate_source_url

ACTION_POST = "post"
ACTION_PREVIEW = "preview"
ACTION_ATTACH = "attach"


# Characters that take up no visible room: format and control characters, and the
# Hangul and Braille "letters" that render blank.
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


def _is_visible(character: str) -> bool:
    return (
        not character.isspace()
        and unicodedata.category(character) not in {"Cf", "Cc"}
        and character not in _BLANK_LETTERS
    )


def visible_length(text: str) -> int:
    """Return how many characters of `text` a reader can actually see."""
    return sum(1 for character in text if _is_visible(character))


def has_visible_text(text: str) -> bool:
    """Return whether a reader can see any character of `text` (looking no further than
    the first one they can: a post is thousands of characters)."""
    return any(_is_visible(character) for character in text)


def clean_title(value: str) -> str:
    """Return a title with its runs of spaces collapsed; refuse one too short after that."""
    title = " ".join(value.split())
    if visible_length(title) < 3:
        raise forms.ValidationError(
            _("Give your topic a title of at least 3 characters."), code="min_length"
        )
    return title


class PostTextField(forms.CharField):
    """A post body: required, not just spaces, within the length limit."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Post"))
        super().__init__(
            max_length=settings.SALA_POST_MAX_LENGTH,
            strip=False,
            widget=forms.Textarea(attrs={"rows": 10}),
            error_messages={"required": _("Write something first.")},
            **kwargs,
        )

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if not has_visible_text(value):
            raise forms.ValidationError(_("Write something first."), code="blank")
        return value.rstrip()


class SubmissionKeyField(forms.UUIDField):
    """The posting form's one-time key; a missing or mangled key just means no key.

    The key only stops double submissions, so a bad one must never block a member
    from posting (they could not see or fix a hidden field anyway).
    """

    def clean(self, value: Any) -> uuid.UUID | None:
        try:
            return super().clean(value)  # type: ignore[no-any-return]
        except forms.ValidationError:
            return None


class PostingForm(forms.Form):
    """What every posting form carries: the text, an image to attach, the submission key."""

    text = PostTextField()
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
    submission_key = SubmissionKeyField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission_key", uuid.uuid4())

    @property
    def action(self) -> str:
        """Return which button was pressed: post (the default), preview or attach."""
        pressed = self.data.get("action", ACTION_POST)
        return pressed if pressed in {ACTION_PREVIEW, ACTION_ATTACH} else ACTION_POST


class TopicForm(PostingForm):
    forum = forms.ModelChoiceField(
        label=_("Forum"),
        queryset=Forum.objects.select_related("category"),
        empty_label=_("Choose a forum"),
        error_messages={
            "required": _("Choose the forum your topic belongs in."),
            "invalid_choice": _("That forum doesn't exist; choose one from the list."),
        },
    )
    title = forms.CharField(
        label=_("Title"),
        min_length=3,
        max_length=200,
        error_messages={"required": _("Give your topic a title.")},
    )
    source_url = forms.CharField(
        label=_("Source"),
        required=False,
        max_length=2000,
        help_text=_('The web address of the article, shown as a "read more" link.'),
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )
    field_order = ["forum", "title", "source_url", "text", "image", "caption"]

    def clean_title(self) -> str:
        return clean_title(self.cleaned_data["title"])

    def clean_source_url(self) -> str:
        url: str = self.cleaned_data["source_url"].strip()
        if not url:
            return ""
        try:
            return validate_source_url(url)
        except forms.ValidationError:
            raise forms.ValidationError(
                _("Enter the article's web address, starting with http:// or https://."),
                code="invalid",
            ) from None


class ReplyForm(PostingForm):
    text = PostTextField(label=_("Your reply"))
    field_order = ["text", "image", "caption"]


class EditPostForm(forms.Form):
    title = forms.CharField(
        label=_("Title"),
        min_length=3,
        max_length=200,
        error_messages={"required": _("Give your topic a title.")},
    )
    text = PostTextField()
    reason = forms.CharField(
        label=_("Reason for the edit"),
        max_length=500,
        help_text=_("Shown in the post's history, to its author and everyone."),
        error_messages={"required": _("Say why you edit another member's post.")},
    )

    def __init__(
        self, *args: Any, with_title: bool, with_reason: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not with_title:
            del self.fields["title"]
        if not with_reason:
            del self.fields["reason"]

    def clean_title(self) -> str:
        return clean_title(self.cleaned_data["title"])


class DeletePostForm(forms.Form):
    """Deleting a post; a moderator deleting another member's says why."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the audit log."),
        error_messages={"required": _("Say why you delete another member's post.")},
    )

    def __init__(self, *args: Any, with_reason: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_reason:
            del self.fields["reason"]
