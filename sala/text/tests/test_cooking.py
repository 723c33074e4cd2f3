import pytest

from sala.text.cooking import CookedText, cook, excerpt
from sala.text.tests.html_checks import assert_harmless, elements

MEMBERS = {"marta", "ana.lima", "sok-chea"}


def profile_url(name: str) -> str | None:
    """Return a profile URL for the members above, whatever the case written."""
    return f"/u/{name.lower()}/" if name.lower() in MEMBERS else None


def cooked(text: str) -> CookedText:
    return cook(text, profile_url=profile_url)


def attributes_of(html: str, tag: str) -> list[dict[str, str]]:
    return [attributes for _, attributes in elements(html, tag)]


# -- Markdown ------------------------------------------------------------------------------


def test_blank_lines_separate_paragraphs() -> None:
    html = cooked("The vote is on Sunday.\n\nPolls open at seven.").html

    assert html == "<p>The vote is on Sunday.</p>\n<p>Polls open at seven.</p>\n"


def test_a_single_new_line_shows_as_a_line_break() -> None:
    assert cooked("first line\nsecond line").html == "<p>first line<br>\nsecond line</p>\n"


def test_titled_image_alone_in_its_paragraph_becomes_a_figure_with_caption() -> None:
    html = cooked(
        "![Leaders at the congress](/media/uploads/ab.webp "
        '"Party leaders at the congress in Siem Reap, Feb. 11")'
    ).html

    assert html == (
        '<figure><img src="/media/uploads/ab.webp" alt="Leaders at the congress" '
        'loading="lazy" decoding="async"><figcaption>Party leaders at the congress in '
        "Siem Reap, Feb. 11</figcaption></figure>\n"
    )


def test_image_without_title_stays_an_image_that_loads_lazily() -> None:
    html = cooked("![A ballot box](https://example.com/box.jpg)").html

    assert "<figure>" not in html
    assert attributes_of(html, "img") == [
        {
            "src": "https://example.com/box.jpg",
            "alt": "A ballot box",
            "loading": "lazy",
            "decoding": "async",
        }
    ]


def test_titled_image_beside_text_keeps_its_title_and_gets_no_caption() -> None:
    html = cooked('See ![a box](/media/box.jpg "The box") here.').html

    assert "<figure>" not in html
    assert attributes_of(html, "img")[0]["title"] == "The box"
    assert attributes_of(html, "img")[0]["loading"] == "lazy"


def test_image_that_is_not_web_or_site_relative_shows_its_description_instead() -> None:
    html = cooked("![the address](mailto:desk@example.com) ![top](#top)").html

    assert elements(html, "img") == []
    assert "the address" in html
    assert "top" in html


def test_image_from_a_protocol_relative_url_is_not_loaded() -> None:
    html = cooked("![tracker](//evil.example/pixel.gif)").html

    assert elements(html, "img") == []


def test_quote_becomes_a_blockquote() -> None:
    html = cooked("> The minister resigned.\n\nHe did.").html

    assert html == "<blockquote>\n<p>The minister resigned.</p>\n</blockquote>\n<p>He did.</p>\n"


def test_table_keeps_column_alignment_as_align_not_style() -> None:
    html = cooked("| Party | Seats |\n|:--|--:|\n| CPP | 120 |").html

    assert "<table>" in html
    assert "style" not in html
    assert attributes_of(html, "th") == [{"align": "left"}, {"align": "right"}]
    assert attributes_of(html, "td") == [{"align": "left"}, {"align": "right"}]


def test_double_tildes_strike_text_through() -> None:
    assert cooked("~~rumour~~ fact").html == "<p><s>rumour</s> fact</p>\n"


def test_fenced_code_gets_a_language_class_and_no_highlighting() -> None:
    html = cooked("```python\nif a < b:\n    print(a)\n```").html

    assert html == (
        '<pre><code class="language-python">if a &lt; b:\n    print(a)\n</code></pre>\n'
    )


def test_fenced_code_with_an_odd_language_name_gets_no_class() -> None:
    html = cooked('```x" onclick="alert(1)\ncode\n```').html

    assert attributes_of(html, "code") == [{}]


def test_ordered_list_keeps_the_number_it_starts_from() -> None:
    assert attributes_of(cooked("3. third\n4. fourth").html, "ol") == [{"start": "3"}]


def test_h1_is_demoted_to_h2_whichever_way_it_is_written() -> None:
    html = cooked("# Breaking\n\nAlso breaking\n===\n\n## Background").html

    assert html == "<h2>Breaking</h2>\n<h2>Also breaking</h2>\n<h2>Background</h2>\n"


def test_raw_html_is_shown_as_text() -> None:
    html = cooked('<b>bold</b> and <a href="/t/1/">a link</a>\n\n<div>\nblock\n</div>').html

    assert html == (
        "<p>&lt;b&gt;bold&lt;/b&gt; and &lt;a "
        'href="/t/1/"&gt;a link&lt;/a&gt;</p>\n'
        "<p>&lt;div&gt;<br>\nblock<br>\n&lt;/div&gt;</p>\n"
    )


# -- Links ---------------------------------------------------------------------------------


def test_bare_url_is_linked_with_nofollow_ugc_noopener_and_collected() -> None:
    result = cooked("Source: https://example.com/news/1?page=2.")

    assert attributes_of(result.html, "a") == [
        {"href": "https://example.com/news/1?page=2", "rel": "nofollow ugc noopener"}
    ]
    assert result.html.endswith("</a>.</p>\n")
    assert result.links == ("https://example.com/news/1?page=2",)


def test_bare_domain_and_email_address_are_not_linked() -> None:
    result = cooked("See example.com or www.example.com, or write to desk@example.com")

    assert elements(result.html, "a") == []
    assert result.links == ()


def test_markdown_link_keeps_its_title_and_gets_rel() -> None:
    html = cooked('[the report](https://example.com/report "PDF, 2 MB")').html

    assert attributes_of(html, "a") == [
        {"href": "https://example.com/report", "title": "PDF, 2 MB", "rel": "nofollow ugc noopener"}
    ]


def test_site_relative_fragment_and_mailto_links_survive() -> None:
    html = cooked("[topic](/t/12-budget/) [top](#top) [desk](mailto:desk@example.com)").html

    assert [a["href"] for a in attributes_of(html, "a")] == [
        "/t/12-budget/",
        "#top",
        "mailto:desk@example.com",
    ]


def test_relative_path_protocol_relative_and_other_scheme_links_stay_text() -> None:
    html = cooked("[a](page.html) [b](//evil.example/) [c](ftp://example.com/) [d](tel:123)").html

    assert elements(html, "a") == []
    assert "[b](//evil.example/)" in html


def test_links_collects_absolute_web_urls_once_each_in_order() -> None:
    result = cooked(
        "[one](https://example.com/b) [two](/t/1/) https://example.com/a "
        "[again](https://example.com/b) [mail](mailto:a@example.com) @marta"
    )

    assert result.links == ("https://example.com/b", "https://example.com/a")


# -- Mentions ------------------------------------------------------------------------------


def test_mention_of_a_member_links_to_their_profile_and_is_collected() -> None:
    result = cooked("Thanks @marta, good point.")

    assert '<a href="/u/marta/" class="mention" rel="nofollow ugc noopener">@marta</a>' in (
        result.html
    )
    assert result.mentions == ("marta",)


def test_mentions_are_collected_once_each_as_first_written_in_order() -> None:
    result = cooked("@Sok-Chea and @ana.lima agree with @sok-chea and @SOK-CHEA.")

    assert result.mentions == ("Sok-Chea", "ana.lima")
    assert [a["href"] for a in attributes_of(result.html, "a")] == [
        "/u/sok-chea/",
        "/u/ana.lima/",
        "/u/sok-chea/",
        "/u/sok-chea/",
    ]


def test_profile_url_is_asked_once_per_name_whatever_its_case() -> None:
    asked: list[str] = []

    def counting_profile_url(name: str) -> str | None:
        asked.append(name)
        return profile_url(name)

    cook("@marta @Marta @nobody @NOBODY @marta", profile_url=counting_profile_url)

    assert asked == ["marta", "nobody"]


def test_mention_ending_a_sentence_leaves_the_full_stop_outside_the_link() -> None:
    html = cooked("Ask @ana.lima.").html

    assert html == (
        '<p>Ask <a href="/u/ana.lima/" class="mention" rel="nofollow ugc noopener">'
        "@ana.lima</a>.</p>\n"
    )


def test_mention_inside_code_is_not_linked() -> None:
    result = cooked("Write `@marta` to mention.\n\n```\n@marta\n```\n\n    @marta")

    assert elements(result.html, "a") == []
    assert result.mentions == ()


def test_mention_inside_a_link_is_not_linked_again() -> None:
    result = cooked("[@marta's post](/t/1/)")

    assert attributes_of(result.html, "a") == [{"href": "/t/1/", "rel": "nofollow ugc noopener"}]
    assert result.mentions == ()


def test_email_address_is_not_a_mention() -> None:
    result = cooked("Write to marta@example.com or see example.com/@marta")

    assert elements(result.html, "a") == []
    assert result.mentions == ()


def test_unknown_member_stays_text_and_is_not_collected() -> None:
    result = cooked("Hello @nobody")

    assert result.html == "<p>Hello @nobody</p>\n"
    assert result.mentions == ()


def test_mention_whose_profile_url_is_unsafe_stays_text() -> None:
    result = cook("Hello @marta", profile_url=lambda name: "javascript:alert(1)")

    assert result.html == "<p>Hello @marta</p>\n"
    assert result.mentions == ()


def test_mention_in_a_script_with_combining_marks_takes_the_whole_name() -> None:
    result = cook("សួស្តី @សុខា!", profile_url=lambda name: "/u/sokha/")

    assert result.mentions == ("សុខា",)
    assert "@សុខា</a>!" in result.html


def test_address_written_in_a_script_with_combining_marks_is_not_a_mention() -> None:
    result = cook("សុខា@example.com", profile_url=lambda name: "/u/sokha/")

    assert result.mentions == ()


# -- Unsafe input --------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](<java\tscript:alert(1)>)",
    "[x](&#106;avascript:alert(1))",
    "[x](javascript&colon;alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](javascript://example.com/%0Aalert(1))",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    "![x](javascript:alert(1))",
    '![x](JAVASCRIPT:alert(1) "title")',
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<javascript:alert(1)>",
    "<vbscript:msgbox(1)>",
    "[x](vbscript:msgbox(1))",
    '<a href="vbscript:msgbox(1)">x</a>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<iframe src="https://evil.example/"></iframe>',
    "<style>body { display: none }</style>",
    '<p style="background: url(javascript:alert(1))">x</p>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<form action="javascript:alert(1)"><button>go</button></form>',
    '[x](https://example.com "\\"><script>alert(1)</script>")',
    '![\\"><script>alert(1)</script>](https://example.com/x.png)',
    '![x](https://example.com/x.png"onerror="alert(1))',
    "[<img src=x onerror=alert(1)>](https://example.com)",
    '```"><script>alert(1)</script>\ncode\n```',
    "`<script>alert(1)</script>`",
    "<!--><script>alert(1)</script>-->",
    "<object data=javascript:alert(1)></object><embed src=javascript:alert(1)>",
    "<base href=javascript:alert(1)//>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "<details open ontoggle=alert(1)>",
    "| a |\n|---|\n| <script>alert(1)</script> |",
    "@<script>alert(1)</script> @marta<script>alert(1)</script>",
    "[x](\x01javascript:alert(1))",
    "http://example.com/<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_known_attack_cooks_into_harmless_html(payload: str) -> None:
    assert_harmless(cooked(payload).html)


def test_attacks_are_many_and_each_is_checked() -> None:
    assert len(XSS_PAYLOADS) >= 25


@pytest.mark.parametrize(
    "text",
    [
        ">" * 5000 + " deep",
        "\n".join(">" * depth + " line" for depth in range(500)),
        "\n".join("  " * depth + "- item" for depth in range(1000)),
        "*[" * 50_000,
        # Smaller: each is as slow per character as the line above, and as telling.
        "![" * 10_000,
        "[a](" * 5_000,
        "*_" * 10_000,
        "<" * 20_000,
        "@" * 20_000,
        "`a``" * 5_000,
    ],
    ids=[
        "quote-marks",
        "quotes-nested-by-lines",
        "lists-nested",
        "emphasis-and-brackets",
        "image-brackets",
        "unclosed-links",
        "emphasis-marks",
        "angle-brackets",
        "at-signs",
        "backticks",
    ],
)
def test_malformed_input_still_cooks_into_sanitised_html(text: str) -> None:
    result = cooked(text)

    assert_harmless(result.html)
    assert result.mentions == ()


def test_deep_nesting_is_cut_off_rather_than_followed() -> None:
    html = cooked(">" * 5000 + " deep").html

    assert html.count("<blockquote>") < 25


# -- Excerpts ------------------------------------------------------------------------------


def test_excerpt_is_the_plain_text_of_cooked_html() -> None:
    html = cooked("## Budget\n\nThe **budget** passed & was *signed*.\n\n- one\n- two").html

    assert excerpt(html) == "Budget The budget passed & was signed. one two"


def test_excerpt_of_a_long_text_ends_at_a_word_with_an_ellipsis() -> None:
    text = excerpt("<p>" + "word " * 100 + "</p>", length=23)

    assert text == "word word word word…"
    assert len(text) <= 23


def test_excerpt_cuts_a_single_long_word_mid_word() -> None:
    assert excerpt("a" * 50, length=10) == "a" * 9 + "…"


def test_excerpt_accepts_plain_text() -> None:
    assert excerpt("Just  a\nsentence.") == "Just a sentence."


def test_excerpt_leaves_out_script_and_style_content() -> None:
    assert excerpt("<style>p {}</style><p>Shown</p><script>hidden()</script>") == "Shown"
