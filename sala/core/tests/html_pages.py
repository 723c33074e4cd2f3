"""Parsing rendered pages, as a browser reads them, to assert on fields, errors and attributes."""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils.html import escape


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: "Element | None"
    parts: list[str] = field(default_factory=list)

    @property
    def raw_text(self) -> str:
        return "".join(self.parts)

    @property
    def text(self) -> str:
        """Return the element's text with runs of whitespace collapsed."""
        return " ".join(self.raw_text.split())

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()

    def ancestors(self) -> Iterator["Element"]:
        element = self.parent
        while element is not None:
            yield element
            element = element.parent


class Page(HTMLParser):
    """A rendered page, parsed as a browser would: elements, attributes (unescaped), text."""

    #: Elements that never have content or an end tag.
    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link"})
    VOID |= {"meta", "source", "track", "wbr"}

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        parent = self._open[-1] if self._open else None
        element = Element(tag, {name: value or "" for name, value in attrs}, parent)
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID and self._open and self._open[-1].tag == tag:
            self._open.pop()

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)

    def with_id(self, element_id: str) -> list[Element]:
        return [e for e in self.elements if e.attrs.get("id") == element_id]

    def with_class(self, name: str) -> list[Element]:
        return [e for e in self.elements if name in e.classes]

    def control(self, name: str) -> Element:
        """Return the one input, select or textarea called `name`."""
        controls = [
            e
            for e in self.elements
            if e.tag in {"input", "select", "textarea"} and e.attrs.get("name") == name
        ]
        assert len(controls) == 1, f"{len(controls)} form controls are named {name!r}"
        return controls[0]

    def value_of(self, name: str) -> str:
        """Return what the control `name` shows: its value, or a textarea's content."""
        control = self.control(name)
        if control.tag == "textarea":
            # The HTML parser drops one newline right after <textarea>; so do browsers.
            return control.raw_text.removeprefix("\n")
        return control.attrs.get("value", "")

    def selected(self, name: str) -> list[str]:
        """Return the values of the selected options of the select called `name`."""
        select = self.control(name)
        return [
            e.attrs.get("value", "")
            for e in self.elements
            if e.tag == "option" and "selected" in e.attrs and select in e.ancestors()
        ]

    def fields_with_errors(self) -> set[str]:
        """Return the names of the fields that show an error."""
        return {
            e.attrs["name"]
            for e in self.elements
            if e.tag in {"input", "select", "textarea"} and e.attrs.get("aria-invalid") == "true"
        }

    @property
    def form_errors(self) -> str:
        """Return the text of the errors about the whole form (not one field)."""
        return " ".join(e.text for e in self.with_class("form__errors"))

    @property
    def main(self) -> Element:
        (main,) = [e for e in self.elements if e.tag == "main"]
        return main


def page_of(response: HttpResponseBase, status: int = 200) -> Page:
    """Return the page in `response`, checked for its status and what screen readers rely on.

    Ids must be unique and every aria-describedby must point at one, or a field's
    error is read out for another field, or not at all.
    """
    assert response.status_code == status, response.status_code
    assert isinstance(response, HttpResponse)
    assert response["Content-Type"].startswith("text/html")
    page = Page(response.content.decode())
    ids = [e.attrs["id"] for e in page.elements if "id" in e.attrs]
    assert len(ids) == len(set(ids)), (
        f"ids used twice: {sorted({i for i in ids if ids.count(i) > 1})}"
    )
    described_by = {i for e in page.elements for i in e.attrs.get("aria-describedby", "").split()}
    assert described_by <= set(ids), f"aria-describedby points nowhere: {described_by - set(ids)}"
    return page


def assert_error_at_field(page: Page, name: str, message: str) -> None:
    """Fail unless `message` is shown in the error block of field `name`, linked to it."""
    error_id = f"id_{name}_error"
    blocks = page.with_id(error_id)
    assert len(blocks) == 1, f"{len(blocks)} elements are #{error_id}; fields with errors: " + str(
        {e.attrs.get("id"): e.text for e in page.with_class("field__errors")}
    )
    (block,) = blocks
    assert any("field__errors" in e.classes for e in [block, *block.ancestors()]), (
        f"#{error_id} is not inside the field's error block"
    )
    assert message in block.text, f"{message!r} not in the error of {name}: {block.text!r}"
    control = page.control(name)
    assert error_id in control.attrs.get("aria-describedby", "").split()
    assert control.attrs.get("aria-invalid") == "true"


def assert_only_errors_at(page: Page, errors: Mapping[str, str]) -> None:
    """Fail unless each field in `errors` shows its message, and no other field an error."""
    for name, message in errors.items():
        assert_error_at_field(page, name, message)
    assert page.fields_with_errors() == set(errors)


def assert_kept(page: Page, typed: Mapping[str, str], *names: str) -> None:
    """Fail unless each control in `names` shows back what was typed, escaped in the HTML."""
    for name in names:
        assert page.value_of(name) == typed[name], f"{name} was not kept as typed"
        assert escape(typed[name]) in page.html
        if "<" in typed[name]:
            assert typed[name] not in page.html, f"{name} came back unescaped"


def assert_not_echoed(page: Page, name: str) -> None:
    """Fail if the password or file control `name` carries a value back to the browser."""
    assert "value" not in page.control(name).attrs
