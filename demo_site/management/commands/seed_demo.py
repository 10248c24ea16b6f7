"""``manage.py seed_demo [--articles N]``: fill an empty demo database, and create the admin.

Deterministic (a seeded random generator): the same run always writes the same authors,
sections, topics, articles and comments; only the dates follow the clock, so the latest
article is always fresh news. Does nothing when articles exist. Rows go in with
``bulk_create`` (no signals, no purges: nothing can be cached yet), in one transaction,
so 1,000 articles take about a second.

The superuser ``admin`` gets a random password the first time, saved in
``<data dir>/admin-password.txt`` (git-ignored), which ``demo_site.run`` prints.
"""

from __future__ import annotations

import random
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from demo_site.models import Article, Author, Category, Comment, Tag

ADMIN_USERNAME = "admin"
PASSWORD_FILE = "admin-password.txt"

CATEGORIES = [
    "World", "Politics", "Business", "Technology", "Science",
    "Health", "Sport", "Culture", "Travel", "Opinion",
]  # fmt: skip
TOPICS = [
    "Climate", "Elections", "Startups", "Artificial intelligence", "Space", "Football",
    "Tennis", "Housing", "Energy", "Transport", "Education", "Cinema", "Music", "Books",
    "Food", "Oceans", "Cities", "Trade", "Privacy", "Open source", "Vaccines", "Cycling",
    "Museums", "Markets", "Rail", "Farming", "Weather", "Gaming", "Architecture", "Wildlife",
]  # fmt: skip
FIRST_NAMES = [
    "Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Keiko", "Luca", "Maya", "Nils", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara",
]  # fmt: skip
LAST_NAMES = [
    "Almeida", "Berg", "Castellano", "Dubois", "Eriksen", "Fontaine", "Garcia", "Hartmann",
    "Ivanova", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov",
    "Quiroga", "Rossi", "Schmidt", "Tanaka",
]  # fmt: skip
SUBJECTS = [
    "City council", "Regional government", "Researchers", "Rail operator", "Local bakery",
    "Central bank", "Museum curators", "Football club", "Start-up founders", "Farmers",
    "Weather service", "University team", "Port authority", "Hospital staff", "Ministers",
    "Tech giant", "Film festival", "Harbour town", "Energy regulator", "Young voters",
]  # fmt: skip
VERBS = [
    "approves", "unveils", "delays", "rethinks", "backs", "questions", "launches",
    "rejects", "doubles", "tests", "celebrates", "pauses", "expands", "reviews", "wins",
]  # fmt: skip
OBJECTS = [
    "new river bridge", "budget for schools", "night train plan", "solar roof scheme",
    "cycle lane network", "four-day week trial", "harbour clean-up", "vaccine campaign",
    "open data portal", "rent cap", "stadium renovation", "wind farm", "museum extension",
    "tram line", "heat-wave plan", "library hours", "AI guidelines", "fishing quotas",
    "airport expansion", "recycling rules",
]  # fmt: skip
TAILS = [
    "", "", "", "after long debate", "amid protests", "ahead of the vote", "for next year",
    "despite the cost", "in surprise move", "as prices rise", "after record summer",
]  # fmt: skip
WORDS = [
    "the", "a", "city", "plan", "people", "year", "new", "council", "said", "report", "local",
    "market", "data", "team", "week", "public", "project", "many", "could", "would", "first",
    "last", "time", "residents", "officials", "work", "budget", "change", "support", "group",
    "energy", "school", "train", "river", "museum", "service", "state", "region", "future", "cost",
    "price", "growth", "study", "results", "summer", "winter", "debate", "vote", "number", "since",
    "after", "before", "while", "still", "already", "only", "more", "most", "some", "other",
    "early", "later", "this", "that", "their", "its", "announced", "expected", "planned",
    "reported", "argued", "warned", "noted", "added", "explained", "showed", "across", "within",
    "around", "between", "during", "against", "toward", "about", "over", "under", "through",
]  # fmt: skip


class Command(BaseCommand):
    help = "Fill an empty demo database with deterministic news, and create the admin user."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--articles", type=int, default=1000, help="default 1000")
        parser.add_argument("--seed", type=int, default=14, help="random seed (default 14)")

    def handle(self, *args: Any, articles: int, seed: int, **options: Any) -> None:
        self._ensure_admin()
        if Article.objects.exists():
            self.stdout.write("seed_demo: articles exist, nothing to do")
            return
        with transaction.atomic():
            created = seed_news(random.Random(seed), articles)
        self.stdout.write(f"seed_demo: created {created} articles")

    def _ensure_admin(self) -> None:
        users = get_user_model()
        if users.objects.filter(username=ADMIN_USERNAME).exists():
            return
        password = secrets.token_urlsafe(9)
        users.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", password)
        path = Path(settings.DATA_DIR) / PASSWORD_FILE
        path.write_text(password + "\n")
        path.chmod(0o600)
        self.stdout.write(f"seed_demo: created the superuser {ADMIN_USERNAME} ({path})")


def _sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def _paragraphs(rng: random.Random, count: int) -> str:
    return "\n\n".join(
        " ".join(_sentence(rng) for _ in range(rng.randint(3, 6))) for _ in range(count)
    )


def _named(model: type[Any], names: list[str]) -> list[Any]:
    model.objects.bulk_create(model(name=name, slug=slugify(name)) for name in names)
    return list(model.objects.order_by("pk"))


def seed_news(rng: random.Random, count: int) -> int:
    """Create the news; returns the number of articles."""
    categories = _named(Category, CATEGORIES)
    topics = _named(Tag, TOPICS)
    names = rng.sample([f"{f} {last}" for f in FIRST_NAMES for last in LAST_NAMES], 20)
    authors = _named(Author, names)

    now = timezone.now().replace(second=0, microsecond=0)
    slugs: set[str] = set()
    rows = []
    for i in range(count):
        title = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        tail = rng.choice(TAILS)
        title = f"{title} {tail}" if tail else title
        slug, n = slugify(title), 1
        while slug in slugs:
            n += 1
            slug = f"{slugify(title)}-{n}"
        slugs.add(slug)
        rows.append(
            Article(
                title=title,
                slug=slug,
                author=rng.choice(authors),
                category=rng.choice(categories),
                body=_paragraphs(rng, rng.randint(4, 7)),
                # Newest first: one every ~9 hours going back, so 1,000 span about a year.
                published_at=now - timedelta(minutes=i * 540 + rng.randint(0, 300)),
                views=int(rng.paretovariate(1.3) * 120),
            )
        )
    Article.objects.bulk_create(rows, batch_size=500)

    pks = dict(Article.objects.values_list("slug", "pk"))  # (SQLite may not return them)
    links = []
    comments = []
    for article in rows:
        pk = pks[article.slug]
        for topic in rng.sample(topics, rng.randint(1, 4)):
            links.append(Article.tags.through(article_id=pk, tag_id=topic.pk))
        for c in range(rng.randint(0, 5)):
            comments.append(
                Comment(
                    article_id=pk,
                    name=rng.choice(FIRST_NAMES),
                    text=" ".join(_sentence(rng) for _ in range(rng.randint(1, 3))),
                    created_at=min(now, article.published_at + timedelta(minutes=20 + 37 * c)),
                )
            )
    Article.tags.through.objects.bulk_create(links, batch_size=1000)
    Comment.objects.bulk_create(comments, batch_size=1000)
    return len(rows)
