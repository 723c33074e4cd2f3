from datetime import UTC, datetime
from pathlib import Path

import pytest

from sala.news.articles import Article, ExtractionFailed, extract_article
from sala.news.markdown import LeadImage, draft_markdown
from sala.text.cooking import cook
from sala.text.tests.html_checks import elements

FIXTURES = Path(__file__).parent / "fixtures"
FETCHED = "https://courier.example.org/p/9921?utm_source=share"
CANONICAL = "https://courier.example.org/politics/2025/06/12/independents-cross-over/"


def article() -> Article:
    return extract_article((FIXTURES / "article.html").read_bytes(), url=FETCHED)


def cooked(markdown: str) -> str:
    return cook(markdown, profile_url=lambda name: None).html


def page(body: str, head: str = "") -> str:
    """Return a small news page around `body`, with enough text to be an article."""
    return (
        f"<!DOCTYPE html><html><head><title>Pier reopens</title>{head}</head><body>"
        "<nav><a href='/'>Home</a></nav><article><h1>Pier reopens after repairs</h1>"
        f"{body}"
        "<p>The pier at Saltmarsh Bay reopened on Saturday after eighteen months of repairs "
        "paid for by the regional fund, and the first ferry tied up there at noon.</p>"
        "<p>Fishing boats will use the north side from next month, the harbour master said, "
        "once the new lights are tested; the south side stays closed to them until then.</p>"
        "</article></body></html>"
    )


# -- A news page ---------------------------------------------------------------------------


def test_article_has_its_headline_byline_precise_date_and_canonical_address() -> None:
    story = article()

    assert (
        story.title == "Independents cross over to the governing bloc before the river towns vote"
    )
    assert story.author == "Ravi Osei"
    assert story.published == datetime(2025, 6, 12, 5, 45, tzinfo=UTC)
    # rel=canonical is relative on the page; it is resolved against the fetched address.
    assert story.url == CANONICAL


def test_article_lead_figure_is_its_image_with_the_caption() -> None:
    assert article().image == LeadImage(
        url="https://courier.example.org/media/2025/06/assembly-hall-1200.jpg",
        caption=(
            "Councillors at the opening of the assembly's spring session in Port Serrat, "
            "3 March 2025. Photo: Lena Vuković"
        ),
        alt="Councillors in the assembly hall in Port Serrat",
    )


def test_article_body_keeps_the_story_and_leaves_out_the_page_around_it() -> None:
    body = article().body

    assert body.startswith("Defections thin the opposition benches weeks before polling day")
    assert body.endswith("the commission expects a first count before midnight.")
    assert "> “People are tired of waiting for the opposition" in body
    assert "*“When a party can hand out committee seats" in body
    for furniture in (
        "Independents cross over",  # the headline is the topic's title
        "Councillors at the opening",  # the caption goes with the figure
        "Subscribe",
        "Advertisement",
        "Related",
        "Lantern list struck from the ballot",
        "morning briefing",
        "harbourwatcher",
        "Same story every cycle",
        "All rights reserved",
        "trackPage",
        "dataLayer",
    ):
        assert furniture not in body


def test_cooked_article_draft_has_the_seed_topics_shape() -> None:
    # The seed topic: the story's paragraphs, a quotation, the photo with its caption, and
    # a "read more" link to the source.
    story = article()

    html = cooked(draft_markdown(story.body, image=story.image, source_url=story.url))

    tags = [tag for tag, _ in elements(html)]
    assert tags[:3] == ["figure", "img", "figcaption"]
    assert tags.count("p") == 9
    assert tags.count("blockquote") == 1
    assert "<figcaption>Councillors at the opening of the assembly's spring session" in html
    assert html.endswith(
        f'<p><a href="{CANONICAL}" rel="nofollow ugc noopener">read more</a></p>\n'
    )
    for tag, attributes in elements(html):
        assert tag not in ("script", "iframe", "form", "nav", "style")
        assert not any(name.startswith("on") for name in attributes)


def test_article_text_that_looks_like_markup_shows_as_written() -> None:
    story = extract_article(
        page("<p>Locals call it *the* pier &lt;script&gt;alert(1)&lt;/script&gt; [sic].</p>"),
        url="https://bay.example.net/pier",
    )

    html = cooked(story.body)

    assert "<p>Locals call it *the* pier &lt;script&gt;alert(1)&lt;/script&gt; [sic].</p>" in html
    assert "<script" not in html


# -- Addresses and pictures ----------------------------------------------------------------


def test_og_url_is_the_address_when_there_is_no_canonical_link() -> None:
    story = extract_article(
        page("", head='<meta property="og:url" content="https://bay.example.net/2025/pier">'),
        url="https://bay.example.net/p/1",
    )

    assert story.url == "https://bay.example.net/2025/pier"


def test_fetched_address_is_kept_when_the_canonical_one_is_not_a_web_address() -> None:
    story = extract_article(
        page("", head='<link rel="canonical" href="javascript:alert(1)">'),
        url="https://bay.example.net/p/1?utm_medium=social&id=4",
    )

    assert story.url == "https://bay.example.net/p/1?id=4"


def test_og_image_is_the_lead_image_when_the_article_has_no_figure() -> None:
    story = extract_article(
        page(
            "",
            head='<meta property="og:image" content="/img/pier.jpg">'
            '<meta property="og:image:alt" content="The pier at dusk">',
        ),
        url="https://bay.example.net/p/1",
    )

    assert story.image == LeadImage(
        url="https://bay.example.net/img/pier.jpg", alt="The pier at dusk"
    )


def test_page_without_a_publication_time_gives_trafilaturas_date_at_midnight() -> None:
    story = extract_article(
        page('<p class="date">Published 14 May 2025</p>'), url="https://bay.example.net/p/1"
    )

    assert story.published == datetime(2025, 5, 14, tzinfo=UTC)


# -- No article ----------------------------------------------------------------------------


def test_login_wall_fails_with_a_message_for_the_member() -> None:
    with pytest.raises(ExtractionFailed) as raised:
        extract_article(
            (FIXTURES / "login-wall.html").read_bytes(), url="https://courier.example.org/x"
        )

    assert str(raised.value).startswith("That page asks readers to sign in or subscribe")


def test_page_declaring_a_paywall_fails_when_only_a_teaser_comes_through() -> None:
    head = '<script type="application/ld+json">{"isAccessibleForFree": "False"}</script>'

    with pytest.raises(ExtractionFailed, match="sign in or subscribe"):
        extract_article(page("", head=head), url="https://bay.example.net/p/1")


@pytest.mark.parametrize(
    "html",
    [b"", "   ", "<html><body></body></html>", "<p>Too short to be a story.</p>"],
    ids=["empty bytes", "blank", "empty page", "one line"],
)
def test_page_without_article_text_fails(html: bytes | str) -> None:
    with pytest.raises(ExtractionFailed, match="couldn't find an article on that page"):
        extract_article(html, url="https://bay.example.net/")


def test_page_of_headlines_is_not_an_article() -> None:
    with pytest.raises(ExtractionFailed, match="couldn't find an article"):
        extract_article(
            (FIXTURES / "not-a-feed.html").read_bytes(), url="https://riverside.example.org/"
        )
