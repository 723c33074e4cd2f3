"""Members' pages in the guest page cache: the generation a profile depends on, and the
listener that bumps it when a member's row changes (sala.core.page_cache holds the
mechanism; writes of other apps that change what a profile shows, such as a post that
counts, bump it from their own `changed_by`).
"""

from sala.accounts.events import MemberChanged
from sala.core import page_cache


def profile_generation(member_id: int) -> str:
    """Return the generation of a member's profile page: their name, avatar, post count
    and last seen."""
    return f"profile:{member_id}"


def drop_cached_profile(event: MemberChanged) -> None:
    """Bump the profile of the member whose row was saved or deleted, in every process."""
    page_cache.get_generations().bump([profile_generation(event.member_id)])
