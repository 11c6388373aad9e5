"""A rendered page as a reader sees it: parsed HTML with a few ways to look things up.

Lookups are by what a reader or a screen reader would use — ids, classes, the label of a
control, the text of a button, the rows of a table — so a test says "the error next to the
image name reads ..." instead of matching markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
CONTROLS = {"input", "select", "textarea"}


@dataclass(eq=False)
class Element:
    tag: str
    attrs: dict[str, str | None]
    parent: Element | None = None
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed (as a reader sees it)."""
        parts: list[str] = []

        def collect(node):
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child.tag not in ("script", "style"):
                    collect(child)

        collect(self)
        return re.sub(r"\s+", " ", " ".join(parts)).strip()

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def all(
        self,
        tag: str | None = None,
        *,
        cls: str | None = None,
        text: str | None = None,
        **attrs: str,
    ) -> list[Element]:
        """Descendants by tag, class, contained text and attributes (`id_="x"`, `for_="x"`,
        `data_label="x"`: a trailing underscore is dropped, inner ones become dashes;
        `selected=True`: the attribute is there, whatever its value)."""
        wanted = {key.rstrip("_").replace("_", "-"): value for key, value in attrs.items()}
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and (cls is None or cls in e.classes)
            and (text is None or text in e.text)
            and all(k in e.attrs if v is True else e.attrs.get(k) == v for k, v in wanted.items())
        ]

    def one(self, tag: str | None = None, **criteria) -> Element:
        found = self.all(tag, **criteria)
        assert len(found) == 1, f"expected one {tag or 'element'} {criteria}, found {len(found)}"
        return found[0]

    def has(self, tag: str | None = None, **criteria) -> bool:
        return bool(self.all(tag, **criteria))

    def __contains__(self, text: str) -> bool:
        return text in self.text


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), parent=self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, dict(attrs), parent=self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


class Page(Element):
    """A whole response: `page.main` is the content under the site header."""

    def __init__(self, response):
        self.response = response
        self.status_code = response.status_code
        self.html = response.content.decode()
        root = parse(self.html)
        super().__init__(root.tag, root.attrs, None, root.children)

    @property
    def main(self) -> Element:
        return self.one("main", id_="content")

    @property
    def messages(self) -> list[str]:
        return [e.text for e in self.main.all("p", cls="message")]

    def form(self, **criteria) -> Element:
        return self.main.one("form", **criteria)

    def buttons(self) -> list[str]:
        """The text of every button in the page's content (what a member can press)."""
        return [e.text for e in self.main.all("button")]

    def errors_by_field(self, form: Element | None = None) -> dict[str, list[str]]:
        """Each error message of a form, filed under the control it follows in reading order.

        "Next to the field" means: after that field, before the next control. Errors before
        the form's first visible control are the form's own ("__all__").
        """
        form = form or self.form(method="post", cls="form")
        found: dict[str, list[str]] = {}
        last = "__all__"
        for element in form.iter():
            if element.tag in CONTROLS and element.attrs.get("type") != "hidden":
                last = element.attrs.get("name") or last
            elif "errors" in element.classes:
                found.setdefault(last, []).append(element.text)
        return found

    def label_for(self, name: str) -> str:
        """The text of the label of the control named `name`."""
        control = next(e for e in self.iter() if e.tag in CONTROLS and e.attrs.get("name") == name)
        return self.one("label", for_=control.attrs["id"]).text

    def table_rows(self, table: Element) -> list[dict[str, str]]:
        """A table's body rows as {column heading: cell text}. A row of one cell spanning
        the table ("No job matches.") is a message, not a row."""
        headings = [th.text for th in table.one("thead").all("th")]
        rows = []
        for tr in table.one("tbody").all("tr"):
            cells = [td for td in tr.all("td") if td.parent is tr]
            if len(cells) == 1 and "colspan" in cells[0].attrs:
                continue
            rows.append(dict(zip(headings, [td.text for td in cells], strict=False)))
        return rows


def page(client, url: str, **params) -> Page:
    """GET a page and parse it; fails the test on anything but 200."""
    response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return Page(response)
