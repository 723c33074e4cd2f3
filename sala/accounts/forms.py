"""Forms members fill in about themselves."""

from typing import Any

from allauth.account import forms as allauth_forms
from allauth.core import context as allauth_context
from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sala.accounts.models import User, time_zone_choices
from sala.core import rate_limits
from sala.core.client_address import client_address
from sala.core.images import ImageRejected, encode_square_webp, open_untrusted_image

#: Side of the stored avatar, in pixels (shown at up to 128 CSS pixels on 2x screens).
AVATAR_SIDE = 256


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        label=_("Display name"),
        max_length=50,
        required=False,
        strip=False,
        help_text=_("Shown beside your posts instead of your username."),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        help_text=_("Times on Sala are shown in this zone."),
    )
    avatar = forms.FileField(
        label=_("Avatar"),
        required=False,
        help_text=_("A JPEG, PNG, GIF or WebP image; it is cropped to a square."),
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}
        ),
    )
    remove_avatar = forms.BooleanField(label=_("Remove my avatar"), required=False)
    hide_presence = forms.BooleanField(
        label=_('Hide me from "Recently Browsing"'),
        required=False,
        help_text=_("You are counted as an anonymous reader instead of named."),
    )

    def __init__(self, *args: Any, member: User, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "display_name": member.display_name,
                "time_zone": member.time_zone,
                "hide_presence": member.hide_presence,
            },
        )
        super().__init__(*args, **kwargs)
        self.member = member
        self.avatar_webp: bytes | None = None
        if not member.avatar:
            del self.fields["remove_avatar"]

    def clean_display_name(self) -> str:
        value: str = self.cleaned_data["display_name"]
        User._meta.get_field("display_name").run_validators(value)
        return value

    def clean_avatar(self) -> Any:
        upload = self.cleaned_data.get("avatar")
        if not upload:
            return None
        try:
            image = open_untrusted_image(
                upload,
                max_bytes=settings.SALA_AVATAR_MAX_BYTES,
                max_pixels=settings.SALA_AVATAR_MAX_PIXELS,
            )
        except ImageRejected as refusal:
            raise forms.ValidationError(str(refusal), code="image") from None
        self.avatar_webp = encode_square_webp(image, side=AVATAR_SIDE)
        return upload


class LoginForm(allauth_forms.LoginForm):  # type: ignore[misc]  # allauth is untyped
    """allauth's sign-in form, labelled for what it takes: a username or an address."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        login = self.fields["login"]
        login.label = _("Username or email")
        login.widget.attrs.update({"autocomplete": "username", "placeholder": ""})


class SignupForm(allauth_forms.SignupForm):  # type: ignore[misc]  # allauth is untyped
    """allauth's sign-up form, with the sign-ups a day allowed from one address
    (SALA_RATE_LIMITS["signups_address"]): past them, the form says when to try again and
    keeps what was typed."""

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()
        if self.errors:
            return cleaned
        request = allauth_context.request
        address = rate_limits.address_key(client_address(request)) if request else ""
        decision = rate_limits.hit("signups_address", address)
        if not decision.allowed:
            refusal = rate_limits.refused(
                decision, str(_("Too many accounts were made from your network today."))
            )
            raise forms.ValidationError(refusal.message, code="too_many_signups")
        return cleaned
