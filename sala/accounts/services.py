"""Writes on members: profile changes, avatars, last seen, sample members."""

import hashlib
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from sala.accounts.events import MemberChanged
from sala.accounts.models import User
from sala.core.events import announce

#: How stale "last seen" may get before a member's request refreshes it.
LAST_SEEN_PRECISION = timedelta(minutes=5)


@transaction.atomic
def update_profile(
    *,
    member: User,
    display_name: str,
    time_zone: str,
    avatar_webp: bytes | None = None,
    remove_avatar: bool = False,
    hide_presence: bool | None = None,
) -> User:
    """Save a member's profile; replace or remove the avatar when asked.

    `avatar_webp` must already be checked and re-encoded (see sala.core.images). The old
    avatar file is deleted only after the new state is committed.
    """
    old_avatar_name = member.avatar.name if member.avatar else ""
    member.display_name = display_name
    member.time_zone = time_zone
    if hide_presence is not None:
        member.hide_presence = hide_presence
    if avatar_webp is not None:
        digest = hashlib.sha256(avatar_webp).hexdigest()[:16]
        member.avatar.save(f"{digest}.webp", ContentFile(avatar_webp), save=False)
    elif remove_avatar:
        member.avatar = None
    member.full_clean(exclude=["password"])
    member.save(update_fields=["display_name", "time_zone", "avatar", "hide_presence"])
    new_avatar_name = member.avatar.name if member.avatar else ""
    if old_avatar_name and old_avatar_name != new_avatar_name:
        storage = member.avatar.storage
        transaction.on_commit(lambda: storage.delete(old_avatar_name))
    return member


def touch_last_seen(*, member: User, now: datetime | None = None) -> None:
    """Record that `member` is active, at most once per LAST_SEEN_PRECISION.

    Written with a single UPDATE and no read, so a busy member costs one cheap query
    every few minutes rather than one per page.
    """
    now = now or timezone.now()
    if member.last_seen and now - member.last_seen < LAST_SEEN_PRECISION:
        return
    User.objects.filter(pk=member.pk).update(last_seen=now)
    member.last_seen = now
    announce(MemberChanged(member.pk))


@transaction.atomic
def create_member(
    *,
    username: str,
    email: str,
    password: str | None,
    display_name: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """Create a member whose email address is already verified (sample data, admins).

    Members who register themselves go through allauth's sign-up and verify by mail.
    """
    member = User(
        username=username,
        email=email,
        display_name=display_name,
        is_staff=is_staff,
        is_superuser=is_superuser,
    )
    if password is None:
        member.set_unusable_password()
    else:
        member.set_password(password)
    member.full_clean(exclude=["password"])
    member.save()
    EmailAddress.objects.create(user=member, email=email, primary=True, verified=True)
    return member
