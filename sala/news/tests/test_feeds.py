import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sala.news.feeds import FeedError, FeedItem, ParsedFeed, parse_feed
from sala.news.markdown import LeadImage, draft_markdown, html_to_markdown, image_markdown
from sala.text.cooking import cook
from sala.text.tests.html_checks import assert_harmless, elements

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parsed(name: str, url: str = "https://courier.example.org/city/feed/") -> ParsedFeed:
    return parse_feed(fixture(name), url=url)


def cooked(markdown: str) -> str:
    # Feed text names no members: every @name stays text.
    return cook(markdown, profile_url=lambda name: None).html


def by_title(feed: ParsedFeed, start: str) -> FeedItem:
    (item,) = [item for item in feed.items if item.title.startswith(start)]
    return item


def tags(html: str) -> list[str]:
    return [tag for tag, _ in elements(html)]


# -- RSS 2.0 -------------------------------------------------------------------------------


def test_rss2_items_keep_their_titles_guids_dates_and_authors_in_feed_order() -> None:
    feed = parsed("rss2.xml")

    assert feed.title == "The Valdera Courier \u2013 City"  # &#8211; is an en dash
    assert feed.link == "https://courier.example.org/city/"
    assert feed.errors == ()
    assert [(item.title, item.guid, item.published, item.author) for item in feed.items] == [
        (
            "Council approves eastern tram line after twelve-hour session",
            "https://courier.example.org/?p=48213",
            datetime(2025, 3, 4, 16, 5, tzinfo=UTC),
            "Inês Marron",
        ),
        (
            "Dockworkers end strike as port agrees to new shift rota",
            "https://courier.example.org/city/2025/03/03/dockworkers-end-strike/",
            datetime(2025, 3, 3, 9, 30, tzinfo=UTC),
            "Tomás Eberly",
        ),
        (
            "Library reopens with rooftop reading room & longer hours",
            "https://courier.example.org/city/2025/03/01/library-reopens/",
            datetime(2025, 3, 1, 8, 0, tzinfo=UTC),
            # "desk@courier.example.org (Ana Lima)": the name, not the address.
            "Ana Lima",
        ),
    ]


def test_item_link_loses_utm_parameters_and_keeps_the_others() -> None:
    item = by_title(parsed("rss2.xml"), "Council approves")

    assert item.link == (
        "https://courier.example.org/city/2025/03/04/eastern-tram-line-approved/?ref=city"
    )


def test_item_with_only_a_permalink_guid_links_to_it() -> None:
    item = by_title(parsed("rss2.xml"), "Library reopens")

    assert item.link == "https://courier.example.org/city/2025/03/01/library-reopens/"


def test_guid_and_link_are_the_dedupe_keys() -> None:
    tram, strike, library = parsed("rss2.xml").items

    assert tram.dedupe_keys == ("https://courier.example.org/?p=48213", tram.link)
    assert strike.dedupe_keys == (strike.guid, strike.link)
    assert replace(library, guid=None).dedupe_keys == (library.link,)


def test_figure_in_the_content_is_the_lead_image_with_its_caption_and_leaves_the_body() -> None:
    item = by_title(parsed("rss2.xml"), "Council approves")

    assert item.image == LeadImage(
        url="https://courier.example.org/wp-content/uploads/2025/03/tram-depot.jpg",
        caption="A tram at the Marsh Road depot, where the new line will start. Photo: Ravi Osei",
        alt="A tram at the Marsh Road depot",
    )
    assert "tram-depot" not in item.body
    assert "Marsh Road depot" not in item.body


def test_media_description_is_the_caption_of_the_media_content_image() -> None:
    item = by_title(parsed("rss2.xml"), "Dockworkers")

    assert item.image == LeadImage(
        url="https://courier.example.org/wp-content/uploads/2025/03/port-cranes.jpg",
        caption="Cranes idle at the container terminal on the sixth day of the strike.",
    )
    # feedparser files the media description under the summary; the body is the article.
    assert "Cranes idle" not in item.body


def test_image_enclosure_is_the_lead_image_when_there_is_no_media_content() -> None:
    item = by_title(parsed("rss2.xml"), "Library reopens")

    assert item.image == LeadImage(
        url="https://courier.example.org/wp-content/uploads/2025/03/library-roof.jpg"
    )


def test_content_encoded_becomes_markdown_with_paragraphs_emphasis_and_resolved_links() -> None:
    item = by_title(parsed("rss2.xml"), "Council approves")

    assert item.body.split("\n\n") == [
        "Valdera's council approved the **eastern tram line** on Tuesday after a session "
        "that began at nine in the morning and ended shortly before nine at night.",
        "Councillors voted 31 to 14 for the plan, which will run trams from the central "
        "station to the Lower Fields estates by 2029. The full [plan and its costings]"
        "(https://courier.example.org/city/documents/tram-plan-2025.pdf) are published on "
        "the council's site.",
        "Opponents argued the £410m budget leaves *no room* for overruns — the last "
        "extension cost a third more than planned.",
    ]


def test_tracking_pixel_script_and_video_frame_are_left_out_of_the_body() -> None:
    feed = parsed("rss2.xml")
    bodies = "\n".join(item.body for item in feed.items)

    assert "pixel.example.net" not in bodies
    assert "trackView" not in bodies
    assert "video.example.net" not in bodies


def test_quotation_and_list_cook_into_blockquote_and_list_under_the_captioned_figure() -> None:
    item = by_title(parsed("rss2.xml"), "Dockworkers")

    html = cooked(draft_markdown(item.body, image=item.image, source_url=item.link))

    assert tags(html) == [
        *("figure", "img", "figcaption"),
        "p",
        *("blockquote", "p"),
        "p",
        *("ul", "li", "li", "em"),
        *("p", "a"),
    ]
    assert "<figcaption>Cranes idle at the container terminal" in html
    assert "<blockquote>\n<p>“Nobody wanted to be out this long." in html
    assert '<a href="https://courier.example.org/city/2025/03/03/dockworkers-end-strike/"' in html


def test_escaped_html_in_a_description_is_read_as_html() -> None:
    item = by_title(parsed("rss2.xml"), "Library reopens")

    assert item.body == (
        "The central library reopened on Saturday after two years of repairs, with a "
        "rooftop reading room and opening hours until **ten at night**.\n\n"
        "Membership stays free for residents."
    )


# -- RSS 1.0, Atom, JSON Feed --------------------------------------------------------------


def test_rss1_items_are_read_from_latin1_with_dc_dates_and_creators() -> None:
    feed = parsed("rss1.rdf", url="https://weather.example.net/bulletins/rss")

    assert feed.title == "Lowland Weather Bulletins"
    flood, frost = feed.items
    assert flood.guid == "https://weather.example.net/bulletins/2025-01-17-flood-warning"
    assert flood.link == "https://weather.example.net/bulletins/2025-01-17-flood-warning"
    assert flood.published == datetime(2025, 1, 17, 5, 20, tzinfo=UTC)
    assert flood.author == "Forecast desk"
    assert "Mühlbach" in flood.body
    assert "[flood advice](https://weather.example.net/advice/floods)" in flood.body
    assert frost.title == "Hard frost expected on Thursday night: roads treated from 8 pm"
    assert (
        frost.body
        == "Gritting crews go out at eight. Temperatures could fall to -9 °C in the hollows."
    )
    assert frost.author is None


def test_atom_entries_read_html_titles_as_text_and_resolve_against_xml_base() -> None:
    feed = parsed("atom.xml", url="https://harbourlight.example.com/feeds/all.atom")

    quota, ferry = feed.items
    assert quota.title == "Fishing quota talks stall over the cod box"
    assert quota.guid == "tag:harbourlight.example.com,2025-02-10:/2025/02/quota-talks-stall"
    assert quota.link == "https://harbourlight.example.com/2025/02/quota-talks-stall"
    assert quota.published == datetime(2025, 2, 10, 8, 15, tzinfo=UTC)
    assert quota.author == "Saoirse Lindqvist"
    assert quota.image == LeadImage(
        url="https://harbourlight.example.com/images/2025/02/trawlers.jpg"
    )
    assert "> We came to talk about fish" in quota.body
    assert "[Brennholm](https://harbourlight.example.com/tags/brennholm)" in quota.body
    # Only <updated>: that is when it was published, as far as anyone can tell.
    assert ferry.published == datetime(2025, 2, 8, 16, 0, tzinfo=UTC)


def test_atom_xhtml_content_gives_its_figure_as_lead_image_and_keeps_its_ordered_list() -> None:
    ferry = parsed("atom.xml", url="https://harbourlight.example.com/feeds/all.atom").items[1]

    assert ferry.image == LeadImage(
        url="https://harbourlight.example.com/images/2025/02/ferry-dock.jpg",
        caption="The Nordlys at the Kalvø pier in January.",
        alt="The ferry at the Kalvø pier",
    )
    assert ferry.body.endswith("1. Morning crossing: 07:10\n2. Afternoon crossing: 15:40")


def test_json_feed_items_are_read_like_xml_ones() -> None:
    feed = parsed("feed.json", url="https://gazette.example.com/feed.json")

    assert feed.title == "Northside Gazette"
    assert feed.link == "https://gazette.example.com/"
    market, bridge = feed.items
    assert market.guid == "https://gazette.example.com/2025/04/market-hall"
    assert market.link == "https://gazette.example.com/2025/04/market-hall"
    assert market.published == datetime(2025, 4, 22, 12, 30, tzinfo=UTC)
    assert market.author == "Kofi Brennan"
    assert market.image == LeadImage(
        url="https://gazette.example.com/img/2025/04/market-hall.jpg",
        caption="Stalls in the market hall on Saturday morning.",
        alt="Stalls inside the market hall",
    )
    assert "> Now we can plan past next Christmas." in market.body
    assert bridge.guid == "9127"
    assert bridge.title == "Old Mill bridge closed for inspection"
    assert bridge.link == "https://gazette.example.com/2025/04/bridge-closure"
    assert bridge.author == "Traffic desk"
    assert bridge.image == LeadImage(
        url="https://gazette.example.com/img/2025/04/old-mill-bridge.jpg"
    )


def test_json_feed_plain_text_keeps_its_paragraphs_and_starts_no_heading_or_list() -> None:
    bridge = parsed("feed.json", url="https://gazette.example.com/feed.json").items[1]

    html = cooked(bridge.body)

    assert tags(html) == ["p", "p", "br", "br"]
    assert "# Not a heading, just text" in html
    assert "1. Not a list either" in html


def test_json_feed_item_without_a_title_is_reported_not_posted() -> None:
    feed = parsed("feed.json", url="https://gazette.example.com/feed.json")

    (error,) = feed.errors
    assert (error.position, error.guid, error.reason) == (3, "9126", "it has no title.")


def test_json_that_is_not_a_json_feed_is_refused() -> None:
    with pytest.raises(FeedError, match="not a JSON Feed"):
        parse_feed(b'{"items": []}', url="https://gazette.example.com/api")
    with pytest.raises(FeedError, match="broken JSON"):
        parse_feed(
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [', url="https://g.example/"
        )


def test_json_nested_beyond_reason_is_refused_as_broken() -> None:
    with pytest.raises(FeedError, match="broken JSON"):
        parse_feed(b"{" + b'"a":[' * 100_000, url="https://g.example/")


# -- Bad items and bad feeds ---------------------------------------------------------------


def test_feed_with_bad_items_yields_the_good_ones_and_says_why_the_others_were_skipped() -> None:
    feed = parsed("broken-item.xml", url="https://riverside.example.org/feed/")

    assert [(item.guid, item.link) for item in feed.items] == [
        ("riverside-4410", "https://riverside.example.org/news/bus-routes-change"),
        ("riverside-4413", "https://riverside.example.org/news/allotments-waiting-list"),
    ]
    assert [(error.position, error.title) for error in feed.errors] == [
        (2, "Win a weekend at the lake!"),
        (3, None),
        (4, "Photo gallery: the frost fair"),
    ]
    javascript, empty, data = feed.errors
    assert javascript.reason.startswith(
        "its link is not a web address (http or https): javascript:"
    )
    assert empty.reason == "it has neither a title nor a link."
    assert data.reason.startswith("its link is not a web address (http or https): data:")
    assert str(javascript).startswith("Item 2 (Win a weekend at the lake!) was skipped: its link")


def test_truncated_xml_with_no_readable_item_raises_feed_error_saying_so() -> None:
    with pytest.raises(FeedError) as raised:
        parsed("malformed.xml", url="https://riverside.example.org/feed/")

    message = str(raised.value)
    assert "XML is broken" in message
    assert "https://riverside.example.org/feed/" in message


def test_html_page_raises_feed_error_saying_it_is_not_a_feed() -> None:
    with pytest.raises(FeedError) as raised:
        parsed("not-a-feed.html", url="https://riverside.example.org/")

    assert str(raised.value).startswith(
        "This address returned an HTML page, not a feed: https://riverside.example.org/."
    )


def test_empty_response_and_xml_of_another_kind_are_not_feeds() -> None:
    with pytest.raises(FeedError, match="empty response"):
        parse_feed(b" \n", url="https://a.example/feed")
    with pytest.raises(FeedError, match=r"not RSS or Atom \(its root element is <urlset>\)"):
        parse_feed(
            b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>https://a.example/</loc></url></urlset>",
            url="https://a.example/sitemap.xml",
        )


def test_feed_with_no_items_yet_is_read_as_empty() -> None:
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>Just started</title></channel></rss>',
        url="https://a.example/feed",
    )

    assert (feed.title, feed.items, feed.errors) == ("Just started", (), ())


def test_billion_laughs_is_refused_in_well_under_a_second() -> None:
    started = time.perf_counter()
    with pytest.raises(FeedError, match="declares a document type"):
        parsed("billion-laughs.xml")

    assert time.perf_counter() - started < 1


def test_external_entities_are_refused_before_anything_is_read() -> None:
    content = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        b'<rss version="2.0"><channel><title>&secret;</title><item><title>&secret;</title>'
        b"<link>https://a.example/1</link></item></channel></rss>"
    )

    with pytest.raises(FeedError, match="declares a document type"):
        parse_feed(content, url="https://a.example/feed")


def test_entity_declarations_in_broken_xml_are_refused_too() -> None:
    # XML broken before its DTD goes to feedparser's tolerant parser, which reads entities.
    content = fixture("billion-laughs.xml").replace(b"<!DOCTYPE", b"<broken & <!DOCTYPE", 1)

    started = time.perf_counter()
    with pytest.raises(FeedError, match="declares a document type"):
        parse_feed(content, url="https://a.example/feed")
    assert time.perf_counter() - started < 1


def test_feed_bytes_naming_a_file_are_read_as_a_document_not_opened(tmp_path: Path) -> None:
    readable_feed = tmp_path / "feed.xml"
    readable_feed.write_bytes(fixture("rss2.xml"))

    with pytest.raises(FeedError):
        parse_feed(str(readable_feed).encode(), url="https://a.example/feed")


# -- Hostile text --------------------------------------------------------------------------


def test_script_and_image_markup_in_titles_comes_out_as_plain_text() -> None:
    feed = parsed("script-titles.xml", url="https://wire.example.com/rss")

    assert feed.title == "Compromised Agency Wire"
    assert [item.title for item in feed.items] == [
        "Mayor resigns over budget",
        "Floods close three schools",
        "Markdown in the text: *stars*, _underscores_ & [a link](javascript:alert(1))",
    ]
    for item in feed.items:
        assert "<" not in item.title
        assert "alert('title')" not in item.title


def test_scripts_handlers_and_javascript_links_in_bodies_never_reach_cooked_html() -> None:
    names = ("rss2.xml", "rss1.rdf", "atom.xml", "feed.json", "broken-item.xml")
    items = [
        item
        for name in (*names, "script-titles.xml")
        for item in parsed(name, url="https://wire.example.com/rss").items
    ]

    for item in items:
        html = cooked(draft_markdown(item.body, image=item.image, source_url=item.link))
        assert_harmless(html)
        assert "alert(" not in html or "&lt;script&gt;alert('escaped')" in html


def test_links_with_javascript_targets_keep_their_words_and_lose_their_targets() -> None:
    floods = by_title(parsed("script-titles.xml", url="https://wire.example.com/rss"), "Floods")

    html = cooked(floods.body)

    assert "<p>Parents were told by text message late on Monday, the district said.</p>" in html
    assert "<blockquote>\n<p>We will reopen as soon as the basements are dry.</p>" in html
    assert "<a " not in html


def test_text_that_looks_like_markdown_or_html_shows_exactly_as_written() -> None:
    item = by_title(parsed("script-titles.xml", url="https://wire.example.com/rss"), "Markdown in")

    html = cooked(item.body)

    assert tags(html) == ["p", "a", "p", "p", "p", "p", "p", "p", "p"]
    assert (
        "<p>Text that only looks like Markdown must stay text: *not emphasis*, [click here]"
        "(javascript:alert('md')), ![pixel](" in html
    )
    assert "&lt;script&gt;alert('escaped')&lt;/script&gt; and `code`.</p>" in html
    for line in (
        "# not a heading",
        "1986. The year the pier burned.",
        "&gt; not a quotation",
        "- not a list item",
        "=====",
        "| not | a | table |",
        "&amp;copy; stays five characters; AT&amp;T stays AT&amp;T.",
    ):
        assert f"<p>{line}</p>" in html


# -- Markdown from feed HTML ---------------------------------------------------------------


def test_html_headings_lists_code_and_nested_quotations_become_markdown() -> None:
    markdown = html_to_markdown(
        "<h2>What changes</h2><ol start='3'><li>Fares <b>rise</b></li><li>Routes</li></ol>"
        "<blockquote><p>First</p><blockquote>Nested</blockquote></blockquote>"
        "<p>Run <code>a`b</code> then<br>stop.</p><pre>x = 1\n  y = 2</pre><h3>Issue #4</h3>",
        base_url="https://a.example/",
    )

    assert markdown.split("\n\n") == [
        "## What changes",
        "3. Fares **rise**\n4. Routes",
        "> First\n>\n> > Nested",
        "Run ``a`b`` then\nstop.",
        "```\nx = 1\n  y = 2\n```",
        "### Issue \\#4",
    ]


def test_spaces_move_outside_emphasis_and_empty_markup_disappears() -> None:
    markdown = html_to_markdown(
        '<p>A<em> quiet </em>day, <b></b><a href="/photo"><img src="/p.jpg"></a>mostly.</p>',
        base_url="https://a.example/",
    )

    assert markdown == "A *quiet* day, mostly."


def test_bare_addresses_in_text_are_links_whose_underscores_survive() -> None:
    markdown = html_to_markdown("<p>See https://a.example/road_works.</p>", base_url=None)

    assert cooked(markdown) == (
        '<p>See <a href="https://a.example/road_works" rel="nofollow ugc noopener">'
        "https://a.example/road_works</a>.</p>\n"
    )


def test_image_markdown_is_the_editors_captioned_figure_form() -> None:
    image = LeadImage(
        url="https://a.example/p.jpg", caption='The "Nordlys" & crew\\', alt="A ferry [1]"
    )

    markdown = image_markdown(replace(image, url="/media/uploads/ab.webp"))

    assert markdown == '![A ferry \\[1\\]](/media/uploads/ab.webp "The \\"Nordlys\\" & crew\\\\")'
    assert cooked(markdown) == (
        '<figure><img src="/media/uploads/ab.webp" alt="A ferry [1]" loading="lazy" '
        'decoding="async"><figcaption>The "Nordlys" &amp; crew\\</figcaption></figure>\n'
    )


def test_draft_leaves_out_an_image_or_source_that_is_not_a_web_address() -> None:
    markdown = draft_markdown(
        "Text.",
        image=LeadImage(url="javascript:alert(1)", caption="x"),
        source_url="javascript:alert(2)",
    )

    assert markdown == "Text."
