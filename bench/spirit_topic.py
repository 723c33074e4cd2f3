"""Spirit's copy of Sala's bench topic, for bench/pages.py; runs in Spirit's own venv.

    DJANGO_SETTINGS_MODULE=bench_settings PYTHONPATH=<spirit site> \\
        <spirit venv>/bin/python bench/spirit_topic.py topic.json

topic.json holds {"title": ..., "texts": [...], "usernames": [...], "password": ...}:
the title and the Markdown of the posts on the first page of Sala's bench topic, and the
bench members. The first member writes the posts through Spirit's own forms, the way
Spirit's publish views do (cooked by Spirit's Markdown, counted, indexed), so Spirit's
page holds the same text as Sala's. Print as JSON the topic's and the sign-in page's
paths and a session key for each member after the first (the first signs in through
the form; the others' sessions are made here, as Spirit's sign-in would make them).
"""

import json
import sys
from importlib import import_module
from pathlib import Path
from typing import Any

import django


def main() -> None:
    """Create the members, a category and the topic with its posts; print their paths."""
    wanted = json.loads(Path(sys.argv[1]).read_text())
    django.setup()
    from django.contrib.auth import get_user_model
    from django.urls import reverse
    from spirit.category.models import Category
    from spirit.comment.forms import CommentForm
    from spirit.comment.utils import comment_posted
    from spirit.topic.forms import TopicForm

    # One hash for all: Spirit's password hasher is slow on purpose, and the bench's
    # members share a password.
    members: list[Any] = []
    for name in wanted["usernames"]:
        member = get_user_model()(username=name, email=f"{name}@example.org")
        if not members:
            member.set_password(wanted["password"])
        else:
            member.password = members[0].password
        member.save()
        member.st.is_verified = True
        member.st.save()
        members.append(member)
    member = members[0]
    category = Category.objects.create(title="News", description="The bench topic's forum.")

    topic_form = TopicForm(user=member, data={"title": wanted["title"], "category": category.pk})
    if not topic_form.is_valid():
        sys.exit(f"Spirit refused the topic: {topic_form.errors.as_json()}")
    topic = topic_form.save()
    for text in wanted["texts"]:
        form = CommentForm(user=member, topic=topic, data={"comment": text})
        if not form.is_valid():
            sys.exit(f"Spirit refused a post: {form.errors.as_json()}")
        comment = form.save()
        comment_posted(comment=comment, mentions=form.mentions)

    print(
        json.dumps(
            {
                "topic_path": topic.get_absolute_url(),
                "login_path": reverse("spirit:user:auth:login"),
                "posts": topic.comment_set.count(),
                "sessions": [make_session(member) for member in members[1:]],
            }
        )
    )


def make_session(member: Any) -> str:
    """Return the key of a new session in which `member` is signed in."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore()
    session[SESSION_KEY] = str(member.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = member.get_session_auth_hash()
    session.save()
    return str(session.session_key)


if __name__ == "__main__":
    main()
