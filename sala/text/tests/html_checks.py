"""Reading cooked HTML as a browser would, and checking that nothing in it can run."""

from html.parser import HTMLParser

#: Elements that must never reach a page from member or publisher text.
FORBIDDEN_ELEMENTS = {
    "script",
    "style",
    "iframe",
    "frame",
    "svg",
    "math",
    "form",
    "input",
    "button",
    "object",
    "embed",
    "base",
    "meta",
    "link",
    "details",
}


class _Elements(HTMLParser):
    """Collect every element of an HTML fragment with its attributes, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))


def elements(html: str, tag: str | None = None) -> list[tuple[str, dict[str, str]]]:
    """Return the elements of `html` (those named `tag`, if given) with their attributes."""
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return [element for element in parser.elements if tag is None or element[0] == tag]


def assert_harmless(html: str) -> None:
    """Fail unless `html` is free of script, event handlers, styles and unsafe URLs."""
    assert "<script" not in html.lower()
    for tag, attributes in elements(html):
        assert tag not in FORBIDDEN_ELEMENTS, tag
        for name, value in attributes.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            if name in ("href", "src"):
                url = "".join(value.split()).lower()
                assert not url.startswith(("javascript:", "vbscript:", "data:")), url
