"""What a page costs in queries once warm, rendered rather than answered from memory: for
the tests of every app that hold a page to its budget."""

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sala.core import local_memo, page_cache, shared_pages

#: What each page may cost in queries when rendered, for a guest and for a member. A
#: member's pages add the session, the member, the roles a moderator's tools need, the
#: reading point and the bans in force (each process reads them at most every few
#: seconds; these counts start from forgotten memory); the index adds the record of most
#: ever online for everyone.
GUEST_BUDGET = {"topic": 3, "forum": 3, "index": 4}
MEMBER_BUDGET = {"topic": 10, "forum": 8, "index": 8}


def count_queries(client: Client, url: str) -> int:
    """Return the queries a page costs to render once warm (the batched view-count flush
    is due at most every few seconds, and has just run). A guest's copy in the page cache
    is forgotten first, as are the render members share and what pages remember for a few
    seconds, so the page is rendered, not answered from memory."""
    client.get(url)
    page_cache.reset()
    shared_pages.reset()
    local_memo.clear_all()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)
