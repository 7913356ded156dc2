"""Intercom speaks HTML; chat channels speak text. Both directions, here.

`to_text` turns an Intercom part body into readable text for the user: block
elements become lines, list items get a dash, links keep their target as
`text (https://...)`, inline images are returned apart as attachments.
`paragraphs` and `linkified` go the other way, escaping everything the user
or the bot wrote so it can never inject markup into the agent's inbox.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

_BLOCKS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "tr", "table", "section", "article", "header", "footer",
}
_SKIPPED = {"script", "style", "head", "title"}
_URL = re.compile(r"https?://[^\s<>\"']+")


class _TextMaker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.images: list[str] = []
        self._links: list[tuple[str, int]] = []  # (href, length of the line when it opened)
        self._skipping = 0
        self._list_depth = 0

    def _newline(self) -> None:
        if self.lines[-1].strip():
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in ("ul", "ol"):
            self._list_depth += 1
            self._newline()
        elif tag == "li":
            self._newline()
            self.lines[-1] += "- "
        elif tag == "br":
            self.lines.append("")
        elif tag in _BLOCKS:
            self._newline()
        elif tag == "a":
            self._links.append(((values.get("href") or "").strip(), len(self.lines[-1])))
        elif tag == "img":
            source = (values.get("src") or "").strip()
            if source.lower().startswith(("http://", "https://")):
                self.images.append(source)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in ("ul", "ol"):
            self._list_depth = max(0, self._list_depth - 1)
            self._newline()
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            shown = self.lines[-1][start:].strip()
            if href.lower().startswith(("http://", "https://", "mailto:")):
                target = href.removeprefix("mailto:")
                if not shown:
                    self.lines[-1] += target
                elif shown != target and shown != href:
                    self.lines[-1] += f" ({href if not href.startswith('mailto:') else target})"
        elif tag in _BLOCKS and tag != "br":
            self._newline()

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        text = re.sub(r"\s+", " ", data)
        if not self.lines[-1] or self.lines[-1].endswith((" ", "- ")):
            text = text.lstrip()
        self.lines[-1] += text


def to_text(body: str | None) -> tuple[str, list[str]]:
    """The readable text of an HTML body, and the URLs of its inline images."""
    if not body:
        return "", []
    maker = _TextMaker()
    maker.feed(body)
    maker.close()
    lines = [line.strip() for line in maker.lines]
    # At most one blank line in a row, none at either end.
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text, maker.images


def linkified(text: str) -> str:
    """`text` escaped for HTML, with http(s) URLs turned into links."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        end = match.start() + len(url)
        out.append(html.escape(text[last : match.start()]))
        out.append(f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>')
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out)


def paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, one per line, escaped and with links."""
    lines = [line for line in text.splitlines() if line.strip()] or [""]
    return "".join(f"<p>{linkified(line)}</p>" for line in lines)
