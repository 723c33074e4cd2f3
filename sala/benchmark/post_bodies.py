"""Post bodies for benchmark data: paragraphs cooked once, posts composed from them.

Cooking costs about a quarter of a millisecond, so a pool of paragraphs is cooked once and
posts are put together from it: paragraphs separated by a blank line are separate blocks,
and the HTML of the whole is the HTML of the paragraphs one after another (checked on a
sample before anything is written). No paragraph contains "@", so there are no mentions
to link.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from random import Random

from sala.benchmark.vocabulary import ONE_LINERS, list_paragraph, plain_paragraph, quote_paragraph
from sala.forums.services import cook_post


@dataclass(frozen=True)
class Piece:
    """A paragraph and its HTML."""

    text: str
    html: str


class ParagraphPool:
    """Paragraphs cooked once; posts are put together from them without cooking again.

    Blocks separated by a blank line cook independently, so the HTML of paragraphs
    joined with "\\n\\n" is their HTML joined. Two lists in a row would merge into one,
    so a list is never followed by another.
    """

    def __init__(
        self, rng: Random, size: int, on_cooked: Callable[[int], None] = lambda n: None
    ) -> None:
        def cooked(texts: Iterable[str]) -> list[Piece]:
            pieces = []
            for text in texts:
                pieces.append(Piece(text, cook_post(text).html))
                on_cooked(1)
            return pieces

        self.plain = cooked(plain_paragraph(rng) for _ in range(size))
        self.quotes = cooked(quote_paragraph(rng) for _ in range(max(1, size // 8)))
        self.lists = cooked(list_paragraph(rng) for _ in range(max(1, size // 20)))
        self.one_liners = cooked(ONE_LINERS)

    @staticmethod
    def cooking_count(size: int) -> int:
        """Return how many texts a pool of `size` cooks."""
        return size + max(1, size // 8) + max(1, size // 20) + len(ONE_LINERS)

    def compose(self, rng: Random, *, first: bool) -> tuple[str, str]:
        """Return (Markdown, HTML) of one post: a first post runs longer than a reply."""
        random = rng.random
        if not first and random() < 0.1:
            piece = self.one_liners[int(random() * len(self.one_liners))]
            return piece.text, piece.html
        # Paragraphs: a reply usually has one to three, a first post two to seven.
        count = _FIRST_POST_PARAGRAPHS if first else _REPLY_PARAGRAPHS
        paragraphs = count[int(random() * len(count))]
        pieces: list[Piece] = []
        if random() < (0.25 if first else 0.12):
            pieces.append(self.quotes[int(random() * len(self.quotes))])
        after_list = False
        plain = self.plain
        for _ in range(paragraphs):
            if not after_list and random() < 0.04:
                pieces.append(self.lists[int(random() * len(self.lists))])
                after_list = True
            else:
                pieces.append(plain[int(random() * len(plain))])
                after_list = False
        return "\n\n".join(p.text for p in pieces), "".join(p.html for p in pieces)


_REPLY_PARAGRAPHS = (1,) * 36 + (2,) * 28 + (3,) * 17 + (4,) * 10 + (5,) * 5 + (6,) * 3 + (8,)
_FIRST_POST_PARAGRAPHS = (2,) * 20 + (3,) * 25 + (4,) * 25 + (5,) * 15 + (6,) * 10 + (7,) * 5


def check_composition(pool: ParagraphPool, rng: Random, samples: int = 30) -> None:
    """Cook a sample of composed posts whole; refuse to go on if any HTML differs."""
    for n in range(samples):
        text, html = pool.compose(rng, first=n % 3 == 0)
        if cook_post(text).html != html:
            raise RuntimeError(f"A composed post cooks differently from its pieces:\n{text}")
