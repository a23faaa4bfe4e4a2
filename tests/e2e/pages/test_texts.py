"""What users read is theirs: in zh-CN, no English word and no raw code on any page, for
every role at its screen sizes (issue 19's acceptance scan).

Each page is opened as each role that works from it, at the tablet, landscape tablet and
wall sizes; every tab is opened in turn, and all visible text (and each control's title
and placeholder) is collected. A Latin word of three or more letters, a depot code
(D110101001), a community code (110101001001) or an item code (SANDBAG) fails the test,
unless the allow-list names it: units, the product's own acronyms, map attribution, the
names of the software and data the about page credits, the user's own login name; text
inside `<code>` (a command, the division code an admin matches coordinates by) is not
prose and is left out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dispatch.accounts.policy import Role
from dispatch.incidents.schemas import IncidentType, Level
from dispatch.people.schemas import PersonCreate, PersonKind
from dispatch.people.service import create_person
from dispatch.preparedness.schemas import (
    HazardSpec,
    Holder,
    HolderKind,
    PlanCreate,
    RoleSpec,
    ShelterCreate,
    ShelterStatus,
)
from dispatch.preparedness.service import approve_plan, create_plan, create_shelter
from tests.dispatch.incidents.helpers import incident
from tests.dispatch.preparedness.helpers import plans_made_here
from tests.e2e.pages.conftest import VIEWPORTS, Watched, login, shot
from tests.support import create_user, run, sql, system_context

pytestmark = pytest.mark.e2e

STREET = "110101001"
COMMUNITY = "110101001001"
# words a Chinese user reads as they are: units, formats, acronyms, the map's credits
ALLOWED = {
    "kg",
    "km",
    "CSV",
    "XLSX",
    "PDF",
    "GCJ",
    "WGS",
    "GPS",
    "QR",
    "ETA",
    "Leaflet",
    "OpenStreetMap",
    "OSM",
    "CC",
    "BY",
    "Vonng",
    "adcode",
    "English",
    "UTF",  # the file encoding a CSV import takes
    # what /about credits, by its own name
    "Litestar",
    "Piccolo",
    "PostgreSQL",
    "SciPy",
    "NumPy",
    "networkx",
    "NetworkX",
    "geopy",
    "Tools",
    "PyVRP",
    "VROOM",
    "MIT",
    "BSD",
    "WTFPL",
    "Apache",
    "modood",
    "Administrative",
    "divisions",
    "China",
}
LATIN = re.compile(r"[A-Za-z][A-Za-z_]{2,}")
CODES = re.compile(r"\bD\d{9}\b|\b\d{12}\b")

VISIBLE_TEXT = """
() => {
  // identifiers shown as code (a command, a division code an admin matches) are not prose;
  // text marked as another language (the switch to it, named in it) is not this one's
  const hide = document.createElement('style');
  hide.textContent = 'code, kbd, samp, body [lang] { display: none !important; }';
  document.head.append(hide);
  const parts = [document.body.innerText];
  hide.remove();
  for (const el of document.querySelectorAll('[title], [placeholder], [aria-label]')) {
    if (el.offsetParent === null) continue;
    for (const a of ['title', 'placeholder', 'aria-label']) {
      const v = el.getAttribute(a);
      if (v) parts.push(v);
    }
  }
  return parts.join('\\n');
}
"""

TABS = (
    "() => [...document.querySelectorAll('[role=tab]')].filter(t => t.offsetParent !== null).length"
)

PAGES = [
    ("/command", Role.COMMANDER),
    ("/command", Role.VIEWER),
    ("/command", Role.STREET_LEADER),
    ("/squad", Role.STREET_LEADER),
    ("/squad", Role.COMMUNITY_WORKER),
    ("/squad", Role.VOLUNTEER),
    ("/drill", Role.TRAINER),
    ("/admin", Role.COMMANDER),
    ("/", Role.VIEWER),
    ("/about", Role.VIEWER),
]


def _person(name: str) -> int:
    body = PersonCreate(
        code=f"P{uuid.uuid4().hex[:10]}",
        name=name,
        kind=PersonKind.SQUAD_MEMBER,
        community=COMMUNITY,
    )
    return run(create_person(system_context(), body)).id


@pytest.fixture(scope="module")
def called_out() -> Iterator[int]:
    """What the preparedness panels show, in the scanned community: an open shelter, an
    approved plan, started by a rainstorm declared there (its role called out). Yields the
    activation; the plan is superseded afterwards, so no later incident starts it."""
    ctx = system_context()
    superseded_after = plans_made_here()
    next(superseded_after)
    place = sql("SELECT lat, lon FROM community WHERE code=$1", COMMUNITY)[0]
    body = ShelterCreate(
        code=f"T{uuid.uuid4().hex[:12]}",
        name="文字检查安置点",
        community=COMMUNITY,
        lat=place["lat"],
        lon=place["lon"],
        capacity=60,
        status=ShelterStatus.OPEN,
    )
    shelter = run(create_shelter(ctx, body))
    holder, deputy = _person("文字检查甲"), _person("文字检查乙")
    role = RoleSpec(
        "现场总指挥", Holder(HolderKind.PERSON, holder), Holder(HolderKind.PERSON, deputy)
    )
    hazards = [HazardSpec(IncidentType.RAINSTORM, Level.IV)]
    plan = run(
        create_plan(ctx, PlanCreate(COMMUNITY, "文字检查预案", hazards, [role], [shelter.id]))
    )
    run(approve_plan(ctx, plan.id))
    declared = incident([COMMUNITY], level="III", kind="rainstorm")
    yield sql("SELECT id FROM plan_activation WHERE incident=$1", declared)[0]["id"]
    next(superseded_after, None)


@pytest.fixture(scope="module", autouse=True)
def _activities() -> None:
    """An activity under way and one to come in COMMUNITY, one signed up for and attended,
    so the squad tablet's activities tab shows its cards (and their words) to every role."""
    person = sql(
        "INSERT INTO person (code, name, kind, street, community, skills, availability, active,"
        " created_at) VALUES ('PTEXTS' || substr(md5(random()::text), 1, 8), '文字检查居民',"
        " 'squad_member', $1, $2, '{}', 'any', true, now()) RETURNING id",
        STREET,
        COMMUNITY,
    )[0]["id"]
    now = datetime.now(UTC)
    for starts, kind in ((now - timedelta(hours=1), "patrol"), (now + timedelta(days=2), "other")):
        activity = sql(
            "INSERT INTO activity (community, street, title, kind, starts_at, ends_at, place,"
            " capacity, signed_up, organiser_id, source, created_by, created_at) VALUES ($1, $2,"
            " '文字检查活动', $3, $4, $5, '居委会门前', 6, 1, $6, 'entered', 'texts', now())"
            " RETURNING id",
            COMMUNITY,
            STREET,
            kind,
            starts,
            starts + timedelta(hours=2),
            person,
        )[0]["id"]
        sql(
            "INSERT INTO activity_signup (activity_id, person_id, signed_up_at, signed_up_by,"
            " checked_in_at, checked_in_by) VALUES ($1, $2, now(), 'texts', $3, 'texts')",
            activity,
            person,
            starts if starts < now else None,
        )


def _user(role: Role, activation: int | None = None) -> str:
    """A user of the role; a squad user is also a person called out by the activation, so
    their tablet shows the call-out alert."""
    if role in (Role.STREET_LEADER, Role.COMMUNITY_WORKER) and activation is not None:
        person = _person("文字检查队员")
        sql(
            "INSERT INTO plan_callout (activation_id, incident, community, street, role, "
            "recipient_kind, recipient_id, person_id, sent_at, due_at) SELECT id, incident, "
            "community, street, '现场总指挥', 'person', $2, $2, now(), now() + interval '10 min' "
            "FROM plan_activation WHERE id=$1",
            activation,
            person,
        )
        scope = {"street": STREET} if role == Role.STREET_LEADER else {"community": COMMUNITY}
        return create_user(role, person=person, **scope)
    if role == Role.STREET_LEADER:
        return create_user(role, street=STREET)
    if role in (Role.COMMUNITY_WORKER, Role.VOLUNTEER):
        return create_user(role, community=COMMUNITY)
    return create_user(role)


# identifiers people and tests give their own records: login names, vehicles' codes
OWN_NAMES = re.compile(r"\b[A-Za-z]+(?:[_-][A-Za-z]+)*[_-][0-9a-f]{4,}\b")


# a random id a record carries in its name (tests make them: 测试单位_7cebe680d9); digits
# and hex letters both, so a division or depot code is never taken for one
HEX_IDS = re.compile(
    r"(?<![A-Za-z0-9])(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}(?![A-Za-z0-9])"
)


def foreign_words(text: str, username: str) -> list[str]:
    """Latin words and codes in `text` a zh-CN reader should not meet (login names and
    vehicle codes are what their owners called them: the users tab lists them)."""
    text = HEX_IDS.sub(" ", OWN_NAMES.sub(" ", text.replace(username, " ")))
    words = [w for w in LATIN.findall(text) if w not in ALLOWED]
    return sorted(set(words + CODES.findall(text)))


def _own_identifiers() -> re.Pattern[str]:
    """Every lot number and vehicle code the database knows, as whole words: the labels on
    the goods and the plates on the vans are what their owners called them (a lot may be
    called `CC`, a van `VCCDE3922`), read off them, not prose."""
    rows = sql("SELECT DISTINCT lot_number AS v FROM lot UNION SELECT code FROM vehicle")
    names = sorted((str(r["v"]) for r in rows), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])")


def _read_every_tab(page: Any) -> str:
    texts = [page.evaluate(VISIBLE_TEXT)]
    for k in range(page.evaluate(TABS)):
        page.locator("[role=tab]:visible").nth(k).click()
        page.wait_for_timeout(300)
        texts.append(page.evaluate(VISIBLE_TEXT))
    return "\n".join(texts)


def test_the_scan_finds_english_and_codes_but_not_units() -> None:
    found = foreign_words("送往 110101001001 的 SANDBAG 12 kg，D110101001 出发，共 3 km", "x")
    assert found == ["110101001001", "D110101001", "SANDBAG"]
    assert foreign_words("沙袋 12 kg（东华门储备点）", "leader_1") == []
    assert foreign_words("用户 street_leader_1de00a909c 与 viewer_0a1b2c3d4e", "x") == []
    assert foreign_words("车辆 VAN_9f3c2a1b0e 与 SCOPE-4fd9b07cee 出车", "x") == []
    assert foreign_words("测试单位_7cebe680d9", "x") == []
    assert foreign_words("单位 BAD 与 cafe", "x") == ["BAD", "cafe"]  # words, not ids


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
@pytest.mark.parametrize(("path", "role"), PAGES, ids=[f"{p}-{r.value}" for p, r in PAGES])
def test_every_page_reads_in_chinese_without_codes(
    open_page: Callable[..., Watched], path: str, role: Role, viewport: str, called_out: int
) -> None:
    username = _user(role, called_out)
    watched = open_page(viewport)
    watched.allow("403")  # a role's page may ask for what it may not read, and say so
    page = watched.page
    login(page, username, next_path=path)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    text = _read_every_tab(page)
    # every page at its users' sizes, for the record (artifacts/screenshots/)
    shot(page, f"page-{path.strip('/') or 'home'}-{role.value}-{viewport}")
    text = _own_identifiers().sub(" ", text)
    found = foreign_words(text, username)
    assert not found, f"{path} as {role.value} at {viewport}: {found}\n" + "\n".join(
        f"  …{text[max(0, k - 30) : k + 30]!r}…" for k in (text.find(w) for w in found[:8])
    )


HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+")
# the catalogue's Chinese names have English ones beside them: in English those must show
TRANSLATED = {("item", "name_zh")}


def _proper_names() -> list[str]:
    """Every Chinese text the database holds as a record's own (places, people, units,
    teams, incidents' titles, notes): names and what people wrote are not translated.
    Read in one statement over every text column (but the catalogue's translated names)."""
    columns = sql(
        "SELECT table_name AS t, column_name AS c FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('character varying', 'text')"
    )
    reads = [
        f'SELECT "{col["c"]}"::text AS v FROM "{col["t"]}" '
        f"WHERE \"{col['c']}\" ~ '[\\u4e00-\\u9fff]'"
        for col in columns
        if (col["t"], col["c"]) not in TRANSLATED
    ]
    rows = sql(" UNION ".join(reads))
    return sorted({str(r["v"]) for r in rows}, key=len, reverse=True)


def han_outside_names(text: str, names: list[str]) -> list[str]:
    """Runs of Chinese characters in `text` once the records' own names are taken out."""
    for name in names:
        text = text.replace(name, " ")
    return sorted(set(HAN.findall(text)))


def test_the_english_scan_finds_chinese_but_not_names() -> None:
    names = ["东华门街道", "多福巷社区"]
    assert han_outside_names("Donghuamen: 东华门街道, 多福巷社区 (2 km)", names) == []
    assert han_outside_names("Stock 库存 at 东华门街道", names) == ["库存"]


@pytest.mark.parametrize(("path", "role"), PAGES, ids=[f"{p}-{r.value}" for p, r in PAGES])
def test_every_page_reads_in_english_without_chinese_chrome(
    open_page: Callable[..., Watched], path: str, role: Role, called_out: int
) -> None:
    """The same pages in English, at the landscape tablet: no Chinese outside the names of
    places, people and the other records users named (the language switch is one tap)."""
    username = _user(role, called_out)
    watched = open_page("tablet-landscape")
    watched.allow("403")
    page = watched.page
    login(page, username, next_path=f"{path}?lang=en")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    assert page.evaluate("document.documentElement.lang") == "en"
    text = _read_every_tab(page)
    found = han_outside_names(text, _proper_names())
    assert not found, f"{path} as {role.value} in English: {found[:20]}\n" + "\n".join(
        f"  …{text[max(0, k - 30) : k + 30]!r}…" for k in (text.find(w) for w in found[:8])
    )
