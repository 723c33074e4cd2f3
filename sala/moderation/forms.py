"""What moderators fill in: reasons, tools, reports, bans, roles, the audit log's filters."""

import re
from datetime import timedelta
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sala.accounts import selectors as accounts_selectors
from sala.accounts.models import User
from sala.forums.models import Forum
from sala.moderation.models import BanKind, Reason
from sala.moderation.services import BULK_LIMIT
from sala.staff.models import Role
from sala.staff.permissions import Powers


class ReasonForm(forms.Form):
    """A reason, required: the author is told it, the audit log keeps it."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Say why, for the author and the other moderators.")},
    )


class SpammerForm(forms.Form):
    """Remove a member as a spammer: why, and which of the domains their posts link to
    are spam (all, unless the moderator unticks some)."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        initial=_("Spam"),
        error_messages={"required": _("Say why, for the other moderators.")},
    )
    domains = forms.MultipleChoiceField(
        label=_("Mark these domains as spam"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, domains: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not domains:
            del self.fields["domains"]
            return
        field = self.fields["domains"]
        if isinstance(field, forms.MultipleChoiceField):
            field.choices = [(domain, domain) for domain in domains]
            field.initial = domains


#: The times a topic can be closed for, by the choice's value.
CLOSE_FOR = {
    "1h": (timedelta(hours=1), _("1 hour")),
    "6h": (timedelta(hours=6), _("6 hours")),
    "1d": (timedelta(days=1), _("1 day")),
    "3d": (timedelta(days=3), _("3 days")),
    "7d": (timedelta(days=7), _("1 week")),
}


class TopicToolForm(forms.Form):
    """A moderator's button on a topic: lock, unlock, pin, unpin, close for a time, reopen."""

    action = forms.ChoiceField(
        choices=[
            ("lock", _("Lock")),
            ("unlock", _("Unlock")),
            ("pin", _("Pin")),
            ("unpin", _("Unpin")),
            ("close", _("Close for")),
            ("reopen", _("Reopen")),
        ],
        error_messages={"invalid_choice": _("That is not something moderators do to a topic.")},
    )
    close_for = forms.ChoiceField(
        label=_("Close for"),
        required=False,
        choices=[(value, label) for value, (_span, label) in CLOSE_FOR.items()],
        error_messages={"invalid_choice": _("Choose how long to close the topic for.")},
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("action") == "close" and not cleaned.get("close_for"):
            self.add_error("close_for", _("Choose how long to close the topic for."))
        return cleaned


class MoveTopicForm(forms.Form):
    """Where to move a topic: the forums the moderator moderates, but its own."""

    forum = forms.ModelChoiceField(
        label=_("Move to"),
        queryset=Forum.objects.none(),
        empty_label=None,
        error_messages={
            "invalid_choice": _("Choose one of the forums you moderate; that one is not."),
            "required": _("Choose the forum to move the topic to."),
        },
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def __init__(
        self, *args: object, powers: Powers, current_forum_id: int, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        forums = Forum.objects.select_related("category").exclude(pk=current_forum_id)
        if not powers.moderates_everywhere:
            forums = forums.filter(pk__in=powers.forum_ids)
        self.fields["forum"].queryset = forums  # type: ignore[attr-defined]


class ReportForm(forms.Form):
    """Why a member reports a post."""

    reason = forms.ChoiceField(
        label=_("What is wrong with this post?"),
        choices=Reason.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose why you report the post."),
            "invalid_choice": _("Choose why you report the post."),
        },
    )
    text = forms.CharField(
        label=_("Details"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only the moderators read this; the author never learns who reported."),
    )


class ResolveForm(forms.Form):
    """A moderator's decision on a review item, or a note on it."""

    action = forms.ChoiceField(
        choices=[
            ("claim", _("Take it")),
            ("note", _("Add note")),
            ("hide", _("Hide post")),
            ("delete", _("Delete post")),
            ("warn", _("Hide and warn")),
            ("suspend", _("Hide and suspend")),
            ("dismiss", _("Dismiss reports")),
            ("approve", _("Approve")),
            ("reject", _("Reject")),
        ],
        error_messages={"invalid_choice": _("That is not a way to resolve a report.")},
    )
    points = forms.TypedChoiceField(
        label=_("Warning points"),
        coerce=int,
        choices=[(n, str(n)) for n in (1, 2, 3, 5, 10)],
        required=False,
        empty_value=None,
    )
    days = forms.TypedChoiceField(
        label=_("Suspend for"),
        coerce=int,
        choices=[(1, _("1 day")), (3, _("3 days")), (7, _("1 week")), (30, _("30 days"))],
        required=False,
        empty_value=None,
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


#: How long a ban lasts, by the choice's value (None: until lifted).
BAN_FOR = {
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "365d": timedelta(days=365),
    "ever": None,
}


class BanForm(forms.Form):
    kind = forms.ChoiceField(label=_("Ban on"), choices=BanKind.choices)
    value = forms.CharField(
        label=_("Username, email or address"),
        max_length=254,
        error_messages={"required": _("Say what to ban.")},
        help_text=_("* matches anything: *@spam.example. Addresses take a range: 203.0.113.0/24."),
    )
    ban_for = forms.ChoiceField(
        label=_("For"),
        choices=[
            ("1d", _("1 day")),
            ("7d", _("1 week")),
            ("30d", _("30 days")),
            ("365d", _("1 year")),
            ("ever", _("Until lifted")),
        ],
        initial="30d",
    )
    registration_only = forms.BooleanField(
        label=_("Registration only: stop new sign-ups, leave members be"), required=False
    )
    user_message = forms.CharField(label=_("Message for the user"), max_length=500, required=False)
    staff_note = forms.CharField(label=_("Note for staff"), max_length=500, required=False)


class AuditFilterForm(forms.Form):
    """What to find in the audit log; every field may stay empty."""

    action = forms.CharField(
        label=_("Action"), max_length=40, required=False, help_text=_("post.hide, or post.")
    )
    actor = forms.CharField(label=_("By (username)"), max_length=30, required=False)
    forum = forms.ModelChoiceField(
        label=_("Forum"),
        queryset=Forum.objects.select_related("category"),
        required=False,
        error_messages={"invalid_choice": _("Choose a forum that exists.")},
    )
    text = forms.CharField(label=_("Words"), max_length=100, required=False)


class GrantRoleForm(forms.Form):
    """Give a member a staff role."""

    username = forms.CharField(label=_("Member (username)"), max_length=30)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    forum = forms.ModelChoiceField(
        label=_("Forum (forum moderators)"),
        queryset=Forum.objects.select_related("category"),
        required=False,
        error_messages={"invalid_choice": _("Choose a forum that exists.")},
    )

    def clean_username(self) -> User:
        member = accounts_selectors.find_member(self.cleaned_data["username"].strip())
        if member is None:
            raise forms.ValidationError(_("No member is called that."))
        return member

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("role") == Role.FORUM_MODERATOR and not cleaned.get("forum"):
            self.add_error("forum", _("Choose the forum this member moderates."))
        return cleaned


#: A topic's address, as members paste it: its path or a whole link.
_TOPIC_ADDRESS = re.compile(r"/t/([0-9]{1,18})-")


class MergeTopicForm(forms.Form):
    """Which topic to merge this one into: its number or its address."""

    into = forms.CharField(
        label=_("Merge into (topic number or address)"),
        max_length=2000,
        error_messages={"required": _("Say which topic to merge this one into.")},
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def clean_into(self) -> int:
        text = self.cleaned_data["into"].strip()
        found = _TOPIC_ADDRESS.search(text)
        number = found[1] if found else text
        if not (number.isascii() and number.isdigit() and len(number) <= 18):
            raise forms.ValidationError(_("Give a topic's number or paste its address."))
        return int(number)


class SplitTopicForm(forms.Form):
    """Which replies to split off into a new topic, its title and its forum."""

    posts = forms.TypedMultipleChoiceField(
        label=_("Replies to split off"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one reply to split off.")},
    )
    title = forms.CharField(label=_("Title of the new topic"), min_length=3, max_length=200)
    forum = forms.ModelChoiceField(
        label=_("In forum"),
        queryset=Forum.objects.none(),
        empty_label=None,
        error_messages={
            "invalid_choice": _("Choose one of the forums you moderate; that one is not.")
        },
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def __init__(
        self, *args: Any, numbers: list[tuple[int, str]], powers: Powers, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["posts"].choices = numbers  # type: ignore[attr-defined]
        forums = Forum.objects.select_related("category")
        if not powers.moderates_everywhere:
            forums = forums.filter(pk__in=powers.forum_ids)
        self.fields["forum"].queryset = forums  # type: ignore[attr-defined]


class _ChosenTopics(forms.TypedMultipleChoiceField):
    """The ticked topics, among those of the forum that were found."""

    def validate(self, value: Any) -> None:
        if len(value) > BULK_LIMIT:
            raise forms.ValidationError(
                _("Choose at most %(limit)s topics at once."), params={"limit": BULK_LIMIT}
            )
        super().validate(value)


class BulkTopicsForm(forms.Form):
    """An action on the topics ticked on a forum page; a move says where to, a delete why."""

    action = forms.ChoiceField(
        label=_("Action"),
        choices=[
            ("lock", _("Lock")),
            ("unlock", _("Unlock")),
            ("pin", _("Pin")),
            ("unpin", _("Unpin")),
            ("move", _("Move…")),
            ("delete", _("Delete…")),
        ],
        error_messages={"invalid_choice": _("That is not something moderators do to topics.")},
    )
    topics = _ChosenTopics(
        label=_("Topics"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "required": _("Tick the topics to act on first."),
            "invalid_choice": _(
                "Some of those topics are no longer in this forum (moved or deleted since "
                "the page was loaded). Reload it and choose again."
            ),
        },
    )
    to_forum = forms.ModelChoiceField(
        label=_("Move to"),
        queryset=Forum.objects.none(),
        required=False,
        error_messages={
            "invalid_choice": _("Choose one of the forums you moderate; that one is not.")
        },
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required to delete: the authors are told it, the audit log keeps it."),
    )

    def __init__(
        self,
        *args: Any,
        topics: list[tuple[int, str]],
        forum_id: int,
        powers: Powers,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["topics"].choices = topics  # type: ignore[attr-defined]
        forums = Forum.objects.select_related("category").exclude(pk=forum_id)
        if not powers.moderates_everywhere:
            forums = forums.filter(pk__in=powers.forum_ids)
        self.fields["to_forum"].queryset = forums  # type: ignore[attr-defined]
