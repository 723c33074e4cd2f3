"""The spammer clean-up: one moderator's action that removes a member as a spammer, and
its undo.

Removing a spammer by hand means a dozen steps per member: delete each topic, hide each
reply, ban the address and the email, sign them out, note the sites they advertise.
`mark_spammer` does them all in one transaction and writes down what it did in a
SpammerCleanup, so that `undo_spammer` can put back exactly that (and nothing a
moderator did since) for SALA_SPAMMER_UNDO_DAYS days:

- their topics are deleted and their other replies hidden, each as a moderator would,
  with the counts, the live events and the audit log that go with it;
- their email address and username are banned, and the addresses they signed up and
  last signed in from are closed to new sign-ups for 30 days (an address is often
  shared, so members already there are left be);
- their password is made unusable, which ends every session they have;
- the domains their posts link to, as the moderator confirmed them, are marked spam.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sala.accounts.models import User
from sala.forums.models import Post
from sala.forums.services import delete_post
from sala.moderation import bans, services
from sala.moderation.models import Ban, BanKind, SpammerCleanup
from sala.staff import audit, permissions
from sala.staff.audit import Acting
from sala.trust.models import SpamDomain

_LINK = re.compile(r'href="(https?://[^"]+)"')

#: Days the addresses of a spammer stay closed to new sign-ups.
ADDRESS_BAN_DAYS = 30


@dataclass(frozen=True)
class SpammerFootprint:
    """What a clean-up of `member` would touch, for the moderator to confirm."""

    member: User
    topics: int
    replies: int
    domains: list[str]
    addresses: list[str]


def link_domains(html_texts: list[str]) -> list[str]:
    """Return the domains `html_texts` link to, without "www.", once each, sorted; the
    site's own hosts are left out."""
    own = {host.lstrip(".").lower() for host in settings.ALLOWED_HOSTS}
    found: set[str] = set()
    for html in html_texts:
        for url in _LINK.findall(html):
            host = (urlsplit(url.replace("&amp;", "&")).hostname or "").lower()
            host = host.removeprefix("www.")
            if host and host not in own:
                found.add(host)
    return sorted(found)


def _live_posts(member: User) -> list[Post]:
    return list(
        Post.objects.filter(author=member, is_deleted=False, topic__is_deleted=False)
        .select_related("topic")
        .order_by("pk")
    )


def footprint(member: User) -> SpammerFootprint:
    """Return what removing `member` as a spammer would touch now."""
    posts = _live_posts(member)
    topics = sum(1 for post in posts if post.is_first)
    own_topics = {post.topic_id for post in posts if post.is_first}
    replies = sum(
        1
        for post in posts
        if not post.is_first and not post.is_hidden and post.topic_id not in own_topics
    )
    return SpammerFootprint(
        member=member,
        topics=topics,
        replies=replies,
        domains=link_domains([post.html for post in posts]),
        addresses=_addresses(member),
    )


def _addresses(member: User) -> list[str]:
    return sorted({a for a in (member.signup_address, member.last_address) if a})


def active_cleanup(member: User) -> SpammerCleanup | None:
    """Return the clean-up of `member` still in force, if any."""
    return SpammerCleanup.objects.filter(member=member, undone_at__isnull=True).first()


@transaction.atomic
def mark_spammer(*, member: User, acting: Acting, domains: list[str]) -> SpammerCleanup:
    """Remove `member` as a spammer (see the module's docstring); mark `domains` spam.

    Raise PermissionDenied outside the rules (permissions.check_mark_spammer) or for a
    member already cleaned up, and ValidationError without a reason.
    """
    actor = acting.actor
    if actor is None:
        raise PermissionDenied(_("Only a moderator removes a spammer."))
    permissions.check_mark_spammer(actor, member)
    if not acting.reason:
        raise ValidationError({"reason": _("Say why, for the other moderators.")})
    member = User.objects.select_for_update().get(pk=member.pk)
    if active_cleanup(member) is not None:
        raise PermissionDenied(_("This member was removed as a spammer already."))
    cleanup = SpammerCleanup(member=member, acted_by=actor, reason=acting.reason)

    posts = _live_posts(member)
    own_topics = {post.topic_id for post in posts if post.is_first}
    for post in posts:
        if post.is_first:
            delete_post(post=post, actor=actor, reason=acting.reason, address=acting.address)
            cleanup.deleted_topic_posts.append(post.pk)
        elif not post.is_hidden and post.topic_id not in own_topics:
            services.hide_post(post=post, acting=acting)
            cleanup.hidden_posts.append(post.pk)

    cleanup.bans = _ban(member, acting)
    cleanup.password = member.password
    member.set_unusable_password()
    member.save()  # announces MemberChanged: every process forgets the signed-in copy

    for domain in sorted(set(domains)):
        spam_domain, created = SpamDomain.objects.get_or_create(
            domain=domain, defaults={"marked_by": actor, "note": f"spammer {member.username}"}
        )
        if created:
            cleanup.spam_domains.append(spam_domain.pk)
    cleanup.save()
    audit.record(
        acting,
        "member.spammer",
        target_type="member",
        target_id=member.pk,
        target_label=member.username,
        subject_id=member.pk,
        after={
            "topics_deleted": len(cleanup.deleted_topic_posts),
            "replies_hidden": len(cleanup.hidden_posts),
            "bans": len(cleanup.bans),
            "spam_domains": sorted(set(domains)),
        },
    )
    return cleanup


def _ban(member: User, acting: Acting) -> list[int]:
    """Ban `member`'s email and username, and close their addresses to sign-ups; return
    the bans made. An address ban that would catch staff is left out."""
    note = _("Spammer clean-up of %(name)s") % {"name": member.username}
    wanted: list[tuple[str, str, bool]] = [(BanKind.USERNAME, member.username, False)]
    if member.email:
        wanted.append((BanKind.EMAIL, member.email, False))
    wanted += [(BanKind.ADDRESS, address, True) for address in _addresses(member)]
    made: list[int] = []
    for kind, value, registration_only in wanted:
        try:
            ban = bans.create_ban(
                acting=acting,
                kind=kind,
                value=value,
                registration_only=registration_only,
                expires_at=(
                    timezone.now() + timedelta(days=ADDRESS_BAN_DAYS) if registration_only else None
                ),
                staff_note=note,
            )
        except PermissionDenied:  # an address staff share: leave it open
            continue
        made.append(ban.pk)
    return made


def check_undo(cleanup: SpammerCleanup) -> None:
    """Refuse to undo a clean-up undone already, or older than SALA_SPAMMER_UNDO_DAYS."""
    if cleanup.undone_at is not None:
        raise PermissionDenied(_("This clean-up was undone already."))
    if timezone.now() - cleanup.created_at > timedelta(days=settings.SALA_SPAMMER_UNDO_DAYS):
        raise PermissionDenied(
            _("A clean-up can be undone for %(days)d days; this one is older.")
            % {"days": settings.SALA_SPAMMER_UNDO_DAYS}
        )


@transaction.atomic
def undo_spammer(*, cleanup: SpammerCleanup, acting: Acting) -> SpammerCleanup:
    """Put back what `cleanup` did and what is still as it left it: the topics and
    replies come back, the bans and spam domains go, the password works again.

    Raise PermissionDenied outside the rules, or past check_undo.
    """
    actor = acting.actor
    if actor is None:
        raise PermissionDenied(_("Only a moderator undoes a clean-up."))
    cleanup = SpammerCleanup.objects.select_for_update().select_related("member").get(pk=cleanup.pk)
    member = cleanup.member
    permissions.check_mark_spammer(actor, member)
    check_undo(cleanup)
    for post in Post.objects.filter(pk__in=cleanup.deleted_topic_posts, is_deleted=True):
        services.restore_post(post=post, acting=acting)
    for post in Post.objects.filter(pk__in=cleanup.hidden_posts, is_hidden=True):
        services.unhide_post(post=post, acting=acting)
    for ban in Ban.objects.filter(pk__in=cleanup.bans):
        bans.lift_ban(ban=ban, acting=acting)
    SpamDomain.objects.filter(pk__in=cleanup.spam_domains).delete()
    member = User.objects.select_for_update().get(pk=member.pk)
    if not member.has_usable_password() and cleanup.password:
        member.password = cleanup.password
        member.save()
    cleanup.undone_at = timezone.now()
    cleanup.undone_by = actor
    cleanup.save(update_fields=["undone_at", "undone_by"])
    audit.record(
        acting,
        "member.spammer_undo",
        target_type="member",
        target_id=member.pk,
        target_label=member.username,
        subject_id=member.pk,
    )
    return cleanup
