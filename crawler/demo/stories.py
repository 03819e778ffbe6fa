"""The sample site's stories: a deterministic generator filling the word pools of crawler/demo/texts.py."""

from __future__ import annotations

import dataclasses
import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from crawler.demo import texts

__all__ = ["SECTIONS", "SEED_SHORTID", "SampleArticle", "isoformat", "sample_stories", "slugify"]

CROSS_LISTED = 15
KAZAKH_STORIES = 6
FIRST_DAY = datetime(2022, 1, 1, tzinfo=UTC)
DAYS = 14
SEED_PUBLISHED = datetime(2022, 1, 8, 8, 2, 35, 426000, tzinfo=UTC)
SEED_SHORTID = "1b0c4250"
SECTIONS = ("news", "politics", "business", "tech", "life", "sports", "world")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("June", "July", "August", "September", "October", "November", "December")
_ALT = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def isoformat(dt: datetime) -> str:
    """`2022-01-08T08:02:35.426Z`, the site's timestamp format."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def slugify(title: str) -> str:
    """Lowercase ASCII words joined by hyphens, at most 60 characters, cut at a word boundary."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    if len(slug) > 60:
        slug = slug[:61].rsplit("-", 1)[0][:60].strip("-")
    return slug or "story"


@dataclass(frozen=True)
class SampleArticle:
    shortid: str
    section: str
    published: datetime
    updated: datetime
    slug: str
    title: str
    lede: str
    caption: str
    photo_credit: str
    blocks: tuple
    credit: str
    publisher: str
    also_in: tuple = ()
    republishes: str | None = None

    @property
    def day(self) -> str:
        return self.published.strftime("%Y-%m-%d")

    @property
    def path(self) -> str:
        return self._path(self.section)

    def _path(self, section: str) -> str:
        return f"/{section}/{self.day}-{self.slug}.{self.shortid}.html"

    def alias_paths(self) -> list[str]:
        return [self._path(other) for other in self.also_in]

    @property
    def text(self) -> str:
        return "\n\n".join([self.lede, *(text for _, text in self.blocks)])

    @property
    def subheadings(self) -> list[str]:
        return [text for kind, text in self.blocks if kind == "h2"]


class _Story:
    """Story-wide entities for filling templates, plus fresh values drawn per use."""

    def __init__(self, rng: random.Random, section: str, published: datetime, place: tuple[str, str]):
        self.rng = rng
        self.published = published
        people = rng.sample(texts.FIRST_NAMES, 4)
        surnames = rng.sample(texts.LAST_NAMES, 4)
        roles = texts.SLOTS[f"{section}_role" if f"{section}_role" in texts.SLOTS else "news_role"]
        role, qrole = rng.sample(roles, 2)
        others = [c for c in texts.CITIES if c[1] != place[1]]
        prefixes = rng.sample(texts.SLOTS["company_prefix"], 2)
        sectors = rng.sample(texts.SLOTS["company_sector"], 2)
        tech = rng.sample(texts.SLOTS["techco_prefix"], 2)
        teams = rng.sample(texts.SLOTS["team_suffix"], 2)
        rival_city = rng.choice([c for c in texts.CITIES if c[0] != place[0]])[0]
        parties = rng.sample(texts.SLOTS["party"], 2)
        subject = rng.choice(texts.SLOTS["subject"])
        self.fixed: dict[str, str] = {
            "P": f"{people[0]} {surnames[0]}",
            "Plast": surnames[0],
            "Q": f"{people[1]} {surnames[1]}",
            "Qlast": surnames[1],
            "role": role,
            "role_cap": role[:1].upper() + role[1:],
            "qrole": qrole,
            "city": place[0],
            "country": place[1],
            "country2": rng.choice(others)[1],
            "org": rng.choice(texts.SLOTS["news_org"]),
            "company": f"{prefixes[0]} {sectors[0][0]}",
            "company2": f"{prefixes[1]} {sectors[1][0]}",
            "sector": sectors[0][1],
            "product": rng.choice(texts.SLOTS["product"]),
            "techco": f"{tech[0]} {rng.choice(texts.SLOTS['techco_suffix'])}",
            "techco2": f"{tech[1]} {rng.choice(texts.SLOTS['techco_suffix'])}",
            "app": rng.choice(texts.SLOTS["app"]),
            "team": f"{place[0]} {teams[0]}",
            "rival": f"{rival_city} {teams[1]}",
            "competition": rng.choice(texts.SLOTS["competition"]),
            "party": parties[0],
            "party2": parties[1],
            "bill": rng.choice(texts.SLOTS["bill"]),
            "subject": subject,
            "subject_cap": subject[:1].upper() + subject[1:],
            "body": rng.choice(texts.SLOTS["world_body"]),
            "issue": rng.choice(texts.SLOTS["world_issue"]),
            "day": _WEEKDAYS[published.weekday()],
            "prevday": _WEEKDAYS[(published.weekday() - 1) % 7],
            "year2": "2022",
            "month_next": rng.choice(("February", "March", "April")),
        }

    def fresh(self, name: str) -> str:
        rng = self.rng
        if name == "n":
            return str(rng.randint(2, 39))
        if name == "n2":
            return str(rng.randint(40, 950))
        if name == "big":
            return f"{rng.randint(1, 95) * 1000 + rng.randint(0, 9) * 100:,}"
        if name == "pct":
            return f"{rng.randint(1, 48)}.{rng.randint(1, 9)} percent"
        if name == "money":
            if rng.random() < 0.5:
                return f"{rng.randint(2, 950)} million euros"
            return f"{rng.randint(1, 40)}.{rng.randint(1, 9)} billion euros"
        if name == "price":
            return f"{rng.randint(3, 49)}.{rng.choice(('50', '90', '99', '00'))} euros"
        if name == "year":
            return str(rng.randint(2012, 2021))
        if name == "year_founded":
            return str(rng.randint(2004, 2016))
        if name == "month":
            return rng.choice(_MONTHS)
        if name == "hour":
            return f"{rng.randint(1, 11)} {rng.choice(('a.m.', 'p.m.'))}"
        if name == "age":
            return str(rng.randint(19, 84))
        if name == "jobs":
            return f"{rng.randint(2, 60) * 50:,}"
        if name == "minute":
            return str(rng.randint(4, 89))
        if name == "rank":
            return str(rng.randint(4, 18))
        if name == "score":
            a = rng.randint(1, 5)
            return f"{a}-{rng.randint(0, a - 1)}"
        if name == "draw":
            a = rng.randint(0, 3)
            return f"{a}-{a}"
        if name == "anyone":
            return f"{rng.choice(texts.FIRST_NAMES)} {rng.choice(texts.LAST_NAMES)}"
        if name == "anycity":
            return rng.choice(texts.CITIES)[0]
        raise KeyError(name)

    def fill(self, template: str) -> str:
        while True:
            expanded = _ALT.sub(lambda m: self.rng.choice(m.group(1).split("|")), template)
            if expanded == template:
                break
            template = expanded
        text = _SLOT.sub(lambda m: self.fixed.get(m.group(1)) or self.fresh(m.group(1)), template)
        return _capitalise(text)


def _capitalise(text: str) -> str:
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1:]
    return text


class _Pool:
    """Templates drawn without replacement, reshuffled when exhausted."""

    def __init__(self, rng: random.Random, templates: tuple[str, ...]):
        self.rng = rng
        self.templates = templates
        self.queue: list[str] = []

    def next(self) -> str:
        if not self.queue:
            self.queue = list(self.templates)
            self.rng.shuffle(self.queue)
        return self.queue.pop()


def _body(rng: random.Random, story: _Story, section: str) -> tuple:
    spec = texts.SECTIONS[section]
    own, generic = _Pool(rng, spec["body"]), _Pool(rng, texts.GENERIC)
    paragraphs = rng.randint(12, 35)
    counts = rng.choices((1, 2, 3), weights=(6, 3, 1), k=paragraphs)
    seen: set[str] = set()

    def sentence(template: str) -> str:
        for _ in range(5):
            text = story.fill(template)
            if text not in seen:
                break
        seen.add(text)
        return text

    paras = []
    for index, count in enumerate(counts):
        out = []
        for k in range(count):
            if index == 0 and k == 0:
                out.append(sentence(rng.choice(spec["open"])))
            elif index == paragraphs - 1 and k == count - 1:
                out.append(sentence(rng.choice(spec["close"])))
            else:
                out.append(sentence((generic if rng.random() < 0.3 else own).next()))
        paras.append(" ".join(out))

    heads = rng.randint(1, 3)
    slots = list(range(3, paragraphs - 1))
    positions: list[int] = []
    for pos in rng.sample(slots, len(slots)):
        if all(abs(pos - other) >= 3 for other in positions):
            positions.append(pos)
        if len(positions) == heads:
            break
    titles: list[str] = []
    for template in rng.sample(spec["subheads"], len(spec["subheads"])):
        text = story.fill(template)
        if text not in titles:
            titles.append(text)
        if len(titles) == len(positions):
            break
    head_at = dict(zip(sorted(positions), titles))
    blocks = []
    for index, text in enumerate(paras):
        if index in head_at:
            blocks.append(("h2", head_at[index]))
        blocks.append(("p", text))
    return tuple(blocks)


def _seed_article() -> SampleArticle:
    seed = texts.SEED
    return SampleArticle(
        shortid=SEED_SHORTID,
        section="news",
        published=SEED_PUBLISHED,
        updated=SEED_PUBLISHED,
        slug=slugify(seed["title"]),
        title=seed["title"],
        lede=seed["lede"],
        caption=seed["caption"],
        photo_credit=seed["photo_credit"],
        blocks=tuple(seed["blocks"]),
        credit=seed["credit"],
        publisher=seed["publisher"],
    )


def _republished(original: SampleArticle, shortid: str) -> SampleArticle:
    title = " ".join(word[:1].upper() + word[1:] for word in original.title.split(" "))
    blocks = tuple((kind, texts.SEED_REWORDED.get(text, text)) for kind, text in original.blocks)
    published = original.published + timedelta(hours=3)
    return dataclasses.replace(
        original,
        shortid=shortid,
        section="politics",
        published=published,
        updated=published,
        slug=slugify(title),
        title=title,
        blocks=blocks,
        credit="dpa / AFP",
        publisher="zeit",
        also_in=(),
        republishes=original.shortid,
    )


def sample_stories(seed: int, count: int) -> tuple[list[SampleArticle], list[str]]:
    """`count` distinct stories (story #0 is the seed article) plus one republished copy, and the short ids of
    five trending ones."""
    if count < 200:
        raise ValueError(f"count must be at least 200, not {count}")
    rng = random.Random(seed)
    seed_story = _seed_article()
    shortids = {seed_story.shortid}

    def new_shortid() -> str:
        while True:
            shortid = f"{rng.getrandbits(32):08x}"
            if shortid not in shortids:
                shortids.add(shortid)
                return shortid

    sections = [SECTIONS[i % len(SECTIONS)] for i in range(count - 1)]
    rng.shuffle(sections)
    kazakh = set(rng.sample([i for i, s in enumerate(sections) if s == "world"], KAZAKH_STORIES))
    titles = {seed_story.title.casefold()}
    stories = [seed_story]
    for index, section in enumerate(sections):
        published = FIRST_DAY + timedelta(
            days=rng.randrange(DAYS), seconds=rng.randrange(86400), milliseconds=rng.randrange(1000)
        )
        place = rng.choice(texts.KAZAKH_CITIES if index in kazakh else texts.CITIES)
        story = _Story(rng, section, published, place)
        spec = texts.SECTIONS[section]
        for _ in range(200):
            title = story.fill(rng.choice(spec["titles"]))
            if title.casefold() not in titles:
                break
        else:  # pragma: no cover - the pools are large enough
            raise RuntimeError(f"no distinct title for story {index + 1}")
        titles.add(title.casefold())
        lede = story.fill(rng.choice(spec["ledes"]))
        caption = story.fill(rng.choice(spec["captions"]))
        photographer = f"{rng.choice(texts.FIRST_NAMES)} {rng.choice(texts.LAST_NAMES)}".upper()
        stories.append(
            SampleArticle(
                shortid=new_shortid(),
                section=section,
                published=published,
                updated=published,
                slug=slugify(title),
                title=title,
                lede=lede,
                caption=caption,
                photo_credit=f"{photographer} / {rng.choice(texts.AGENCIES)}",
                blocks=_body(rng, story, section),
                credit=rng.choice(texts.CREDIT_LINES),
                publisher=rng.choice(texts.PUBLISHERS),
            )
        )
    for index in rng.sample(range(1, count), CROSS_LISTED):
        listed = stories[index]
        other = rng.choice([s for s in SECTIONS if s != listed.section])
        stories[index] = dataclasses.replace(listed, also_in=(other,))
    copy = _republished(seed_story, new_shortid())
    trends = rng.sample(range(1, count), 5)
    return stories + [copy], [stories[i].shortid for i in trends]
