"""The sample community `make run` loads: original text written for Sala.

It shows a newcomer every element of a news topic page at once: a news forum and a
general one, a reposted article with paragraphs, a quotation, a photo with its caption
and a "read more" source, and replies from several members. It is an app of its own at
the top of the layers (docs/subsystems/layering.md): it writes through the accounts' and
forums' services, and no app knows it exists.
"""

import io
import secrets
from datetime import timedelta
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from sala.accounts import services as accounts_services
from sala.accounts.models import User
from sala.forums import services as forum_services
from sala.forums.models import Category, Forum, Post, Topic
from sala.forums.uploads import figure_markdown, store_post_image

MEMBERS = [
    ("marta", "Marta Quintero"),
    ("oskar.lind", "Oskar Lind"),
    ("priya_n", "Priya Natarajan"),
    ("tomasz", ""),
]

NEWS_TITLE = "Harbour Town Votes to Bring Back Its Tram After Forty Years"
NEWS_SOURCE = "https://news.example.org/2026/11/harbour-town-tram-returns"
NEWS_LEAD = """\
Residents of Porto Lume voted on Sunday to rebuild the tram line that once ran from the \
fish market to the hill villages, forty years after the last car was sold for scrap. \
Turnout was the highest the town has seen for a local question.

The plan, costed at 38 million euros, would lay 6.5 kilometres of track along the old \
route and add two stops near the new hospital. Work on the first section could start \
next spring if the regional government confirms its share of the money.

Supporters argued that the buses are full by seven in the morning and that the coast \
road cannot be widened any further. Opponents worried about the cost and about two \
years of roadworks in the narrow streets of the old town.

> "My grandmother took the tram to the market every Saturday. I want my children to be \
able to do the same without sitting in traffic," said Elena Duarte, a teacher who \
collected signatures for the vote.

The mayor, Rui Calado, said the council would publish the route and the timetable for \
public comment before the end of the year. "The vote settles whether we build it. How \
we build it is still a conversation," he said.
"""
NEWS_CAPTION = (
    "The old tram depot on Rua do Cais, which the plan would turn into the line's terminus."
)

REPLIES = [
    (
        "oskar.lind",
        "We rebuilt ours in 2019 and the first year of roadworks was miserable, but nobody "
        "in town would give it up now. The trick was doing one street at a time.",
    ),
    (
        "priya_n",
        "38 million for 6.5 km sounds low. Does that include the trams themselves, or only "
        "the track?",
    ),
    (
        "marta",
        "@priya_n the article on the council's site says the cars are leased, so they are "
        "outside that figure. Worth asking at the public comment stage.",
    ),
    (
        "tomasz",
        "Good to see a town asking people first. Turnout says a lot.",
    ),
]

GENERAL_TITLE = "Welcome! Introduce yourself here"
GENERAL_TEXT = """\
New here? Tell us who you are and which news you follow.

A few tips:

- Share an article with **Create New... → Topic** and paste its address as the source.
- Quote a post with its **Quote** link; your reply box fills in for you.
- Be kind, and argue about ideas, not people.
"""


def draw_depot_picture() -> bytes:
    """Return a small illustration of a tram depot, drawn for Sala (PNG)."""
    image = Image.new("RGB", (960, 540), "#87b5d9")
    draw = ImageDraw.Draw(image)
    for row in range(200):  # evening sky fading towards the horizon
        shade = (135 + row // 3, 181 - row // 8, 217 - row // 4)
        draw.line([(0, row * 2), (960, row * 2)], fill=shade, width=2)
    draw.ellipse([760, 60, 860, 160], fill="#ffd27a")
    draw.rectangle([0, 400, 960, 540], fill="#6d6a64")
    draw.rectangle([140, 180, 820, 400], fill="#c8553d")
    draw.polygon([(120, 190), (480, 90), (840, 190)], fill="#8c2f1f")
    for left in (200, 420, 640):
        draw.rectangle([left, 260, left + 140, 400], fill="#3b2a24")
        draw.arc([left, 220, left + 140, 300], 180, 360, fill="#f1e3c8", width=6)
    draw.rectangle([380, 330, 700, 400], fill="#f0b429")
    draw.rectangle([400, 340, 680, 365], fill="#dbeafe")
    for rail in (420, 470):
        draw.line([(0, rail), (960, rail)], fill="#2b2b2b", width=5)
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()


def _member(username: str, display_name: str) -> User:
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing
    return accounts_services.create_member(
        username=username,
        email=f"{username.replace('.', '').replace('_', '')}@example.org",
        password=None,
        display_name=display_name,
    )


def _ensure_admin(password_file: Path) -> str:
    """Create the sample admin once; return how to sign in as it."""
    if not User.objects.filter(username="admin").exists():
        password = secrets.token_urlsafe(12)
        accounts_services.create_member(
            username="admin",
            email="admin@example.org",
            password=password,
            display_name="Sala Admin",
            is_staff=True,
            is_superuser=True,
        )
        password_file.write_text(password)
        password_file.chmod(0o600)
    if password_file.exists():
        return f"admin / {password_file.read_text().strip()}"
    return "admin (its password was set before this data folder kept it)"


def load_sample_community(data_dir: Path) -> str:
    """Load the sample community unless it is there already; return the admin's sign-in."""
    sign_in = _ensure_admin(data_dir / "sample-admin-password")
    if Topic.objects.filter(title=NEWS_TITLE).exists():
        return sign_in
    with transaction.atomic():
        members = {username: _member(username, name) for username, name in MEMBERS}
        category = Category.objects.create(name="Community", position=1)
        news = Forum.objects.create(
            category=category,
            name="News",
            position=1,
            description="Articles from around the world, shared by members and talked over.",
        )
        general = Forum.objects.create(
            category=category,
            name="General discussion",
            position=2,
            description="Everything else: introductions, questions, this community itself.",
        )
        picture = store_post_image(
            owner=members["marta"],
            upload=SimpleUploadedFile("depot.png", draw_depot_picture(), "image/png"),
        )
        forum_services.create_topic(
            forum=general,
            author=members["oskar.lind"],
            title=GENERAL_TITLE,
            text=GENERAL_TEXT,
        )
        topic = forum_services.create_topic(
            forum=news,
            author=members["marta"],
            title=NEWS_TITLE,
            text=f"{NEWS_LEAD}\n{figure_markdown(picture, NEWS_CAPTION)}\n",
            source_url=NEWS_SOURCE,
        )
        for username, text in REPLIES:
            forum_services.reply(topic=topic, author=members[username], text=text)
        # Spread the conversation over the last few hours, as it would have happened.
        start = timezone.now() - timedelta(hours=5)
        for post in Post.objects.filter(topic=topic).order_by("number"):
            post.created_at = start + timedelta(minutes=37 * (post.number - 1))
            post.save(update_fields=["created_at"])
        Topic.objects.filter(pk=topic.pk).update(
            created_at=start, last_post_at=start + timedelta(minutes=37 * len(REPLIES))
        )
    return sign_in
