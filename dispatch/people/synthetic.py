"""A synthetic Dongcheng population for the demo and the tests, from a fixed seed.

Pure: it takes the communities and streets and a date and returns plain rows. Names are
made up from common characters; phone numbers start with 100, a prefix no Chinese mobile
number uses, so they can never reach a real person. The service writes the rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

SEED = 110101
FIRST_UNIT = "U0001"  # the first unit's code: marks the synthetic district as loaded

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉"
    "建国红梅海波宁鑫浩宇晨欣怡佳琪涵萱远博俊雨泽嘉志晓东立新永庆淑珍"
)

FIELDS = [
    "文化",
    "交通",
    "水利",
    "卫生",
    "教育",
    "科技",
    "统计",
    "审计",
    "档案",
    "气象",
    "地质",
    "林业",
    "粮食",
    "测绘",
    "体育",
    "商务",
    "民政",
    "应急",
    "税务",
    "海关",
    "标准",
    "知识产权",
    "广播",
    "出版",
    "人防",
    "住建",
    "园林",
    "市政",
    "供销",
    "农业",
]
CENTRAL_SUFFIX = ("部机关", "研究院", "服务中心", "管理局", "信息中心", "发展中心")
MUNICIPAL_SUFFIX = ("局机关", "委员会机关", "事务中心", "研究所", "监测中心")
FIRMS = [
    "首都",
    "京华",
    "燕山",
    "东方",
    "长安",
    "和平",
    "紫禁",
    "天坛",
    "永定",
    "龙潭",
    "北辰",
    "华远",
    "中京",
    "安和",
    "景泰",
]
TRADES = [
    "能源",
    "建设",
    "交通",
    "通信",
    "电力",
    "燃气",
    "热力",
    "水务",
    "投资",
    "旅游",
    "商业",
    "物流",
]
TWO_NEW = (
    "{}律师事务所",
    "{}科技有限公司",
    "{}社会工作服务中心",
    "{}志愿服务协会",
    "{}文化传媒有限公司",
)

# how common each skill is among volunteers (weights)
SKILL_WEIGHTS = {
    "lifting": 30,
    "driving": 22,
    "first_aid": 20,
    "elderly_care": 14,
    "counselling": 8,
    "electrician": 6,
    "plumbing": 6,
    "medical": 5,
    "interpreting": 3,
}
SQUAD_SKILLS = ("first_aid", "driving", "lifting", "electrician", "plumbing")
AVAILABILITY = ("any", "any", "weekdays", "weekends", "evenings", "on_call")
CARE_NEEDS = {
    "low_income": ("meals", "heating", "medication", "daily_check"),
    "student": ("tutoring", "meals"),
    "elderly_alone": ("daily_check", "medication", "mobility", "hearing", "oxygen", "meals"),
}


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    street: str


@dataclass
class SyntheticDistrict:
    """Rows keyed by codes; the service maps codes to ids as it writes them."""

    units: list[dict[str, object]] = field(default_factory=list)
    pairings: list[dict[str, object]] = field(default_factory=list)
    people: list[dict[str, object]] = field(default_factory=list)
    teams: list[dict[str, object]] = field(default_factory=list)  # members: person codes
    care_households: list[dict[str, object]] = field(default_factory=list)
    check_ins: list[dict[str, object]] = field(default_factory=list)  # person code, minutes ago


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self) -> str:
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def phone(self) -> str:
        return "100" + "".join(self.rng.choice("0123456789") for _ in range(8))

    def address(self, community: Place) -> str:
        building, entrance = self.rng.randint(1, 30), self.rng.randint(1, 6)
        room = self.rng.randint(1, 16) * 100 + self.rng.randint(1, 4)
        return f"{community.name}{building}号楼{entrance}单元{room}"


def _skills(rng: random.Random, most: int, pool: dict[str, int] = SKILL_WEIGHTS) -> list[str]:
    names, weights = list(pool), list(pool.values())
    count = rng.choice(range(most + 1))
    return sorted({rng.choices(names, weights)[0] for _ in range(count)})


def _unit_names(rng: random.Random) -> list[tuple[str, str]]:
    """(kind, name) for about 130 units: central, municipal, state enterprise, two new."""
    names: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(kind: str, name: str) -> None:
        if name not in seen:
            seen.add(name)
            names.append((kind, name))

    while len(names) < 35:
        add("central_ministry", f"国家{rng.choice(FIELDS)}{rng.choice(CENTRAL_SUFFIX)}")
    while len(names) < 75:
        add("municipal", f"北京市{rng.choice(FIELDS)}{rng.choice(MUNICIPAL_SUFFIX)}")
    while len(names) < 105:
        add("state_enterprise", f"北京{rng.choice(FIRMS)}{rng.choice(TRADES)}集团有限公司")
    while len(names) < 130:
        add("two_new", rng.choice(TWO_NEW).format(rng.choice(FIRMS) + rng.choice(FIRMS)))
    return names


class _Builder:
    """The district as it is being made: one random stream, the names, the rows so far."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names = _Names(rng)
        self.out = SyntheticDistrict()
        self.serial = 0

    def person(self, kind: str, street: str, community: Place | None, **extra: object) -> str:
        """Add one person (`extra` overrides the drawn fields); returns their code."""
        self.serial += 1
        code = f"P{self.serial:06d}"
        home = community
        self.out.people.append(
            {
                "code": code,
                "name": self.names.person(),
                "kind": kind,
                "phone": self.names.phone(),
                "address": self.names.address(home) if home else None,
                "street": street,
                "community": community.code if community else None,
                "party_branch": None,
                "unit_code": None,
                "skills": _skills(self.rng, 3),
                "availability": self.rng.choice(AVAILABILITY),
                **extra,
            }
        )
        return code

    def check_in(self, code: str, community: Place) -> None:
        self.out.check_ins.append(
            {"person": code, "community": community.code, "minutes": self.rng.randint(5, 300)}
        )


def generate(
    communities: list[Place], streets: list[tuple[str, str]], today: date, seed: int = SEED
) -> SyntheticDistrict:
    """The whole population, the same for the same inputs and seed.

    The steps run in a fixed order on one random stream: reordering them changes every row.
    """
    build = _Builder(random.Random(seed))
    communities = sorted(communities, key=lambda c: c.code)
    units = _unit_names(build.rng)
    primary = _partner_units(build, units, communities, today)
    members_of = _party_members(build, units, communities)
    _street_squads(build, streets, communities)
    _unit_teams(build, primary)
    _community_teams(build, communities, members_of)
    _care_households(build, communities, members_of)
    return build.out


def _partner_units(
    build: _Builder, units: list[tuple[str, str]], communities: list[Place], today: date
) -> dict[str, Place]:
    """Partner units and their pairings: every community has at least one in force.

    Returns unit code -> the community its team serves (its first paired community).
    """
    rng, out = build.rng, build.out
    for k, (kind, name) in enumerate(units):
        out.units.append(
            {
                "code": f"U{k + 1:04d}",
                "name": name,
                "kind": kind,
                "contact_name": build.names.person(),
                "contact_phone": build.names.phone(),
            }
        )
    primary: dict[str, Place] = {}
    for i, community in enumerate(communities):
        unit = out.units[i * len(out.units) // len(communities)]
        primary.setdefault(str(unit["code"]), community)
        paired = {unit["code"]}
        signed = today - timedelta(days=rng.randint(30, 700))
        out.pairings.append(_pairing(rng, unit, community, signed, years=3))
        for chance, years, oldest in ((0.6, 3, 700), (0.08, 1, 800)):
            other = rng.choice(out.units)
            if rng.random() >= chance or other["code"] in paired:
                continue
            paired.add(other["code"])
            # years=1 and signed over 400 days ago: an agreement that has run out (visible,
            # not counting); otherwise a second unit in force
            signed = today - timedelta(days=rng.randint(400 if years == 1 else 30, oldest))
            out.pairings.append(_pairing(rng, other, community, signed, years=years))
    return primary


def _party_members(
    build: _Builder, units: list[tuple[str, str]], communities: list[Place]
) -> dict[str, list[str]]:
    """On-duty Party members (双报到), registered where they live, with their employer's
    branch; some checked in. Returns community code -> its members' codes."""
    rng = build.rng
    branches = [f"{name}党支部" for _, name in units]
    branches += [f"{rng.choice(FIRMS)}{rng.choice(TRADES)}公司第{n}党支部" for n in range(1, 60)]
    members_of: dict[str, list[str]] = {}
    for community in communities:
        for n in range(rng.randint(10, 26)):
            code = build.person(
                "party_member", community.street, community, party_branch=rng.choice(branches)
            )
            members_of.setdefault(community.code, []).append(code)
            if n == 0 or rng.random() < 0.15:
                build.check_in(code, community)
    return members_of


def _street_squads(
    build: _Builder, streets: list[tuple[str, str]], communities: list[Place]
) -> None:
    """Street emergency squads, 10-20 each; some on duty in one of their street's communities."""
    rng = build.rng
    by_street: dict[str, list[Place]] = {}
    for c in communities:
        by_street.setdefault(c.street, []).append(c)
    for street, street_name in sorted(streets):
        codes = []
        for _ in range(rng.randint(10, 20)):
            code = build.person("squad_member", street, None, skills=_squad_skills(rng))
            codes.append(code)
            if rng.random() < 0.3 and by_street.get(street):
                build.check_in(code, rng.choice(by_street[street]))
        build.out.teams.append(
            {
                "name": f"{street_name}应急小分队",
                "kind": "street_squad",
                "street": street,
                "community": None,
                "unit_code": None,
                "members": codes,
            }
        )


def _unit_teams(build: _Builder, primary: dict[str, Place]) -> None:
    """Partner-unit teams, serving the unit's first paired community."""
    for unit in build.out.units:
        served = primary.get(str(unit["code"]))
        if served is None:
            continue
        codes = [
            build.person("unit_member", served.street, served, unit_code=unit["code"])
            for _ in range(build.rng.randint(4, 8))
        ]
        build.out.teams.append(
            {
                "name": f"{unit['name']}下沉队",
                "kind": "unit_team",
                "street": served.street,
                "community": served.code,
                "unit_code": unit["code"],
                "members": codes,
            }
        )


def _community_teams(
    build: _Builder, communities: list[Place], members_of: dict[str, list[str]]
) -> None:
    """Community workers and a community team (two workers and three Party members)."""
    for community in communities:
        workers = [
            build.person(
                "community_worker", community.street, community, skills=_skills(build.rng, 2)
            )
            for _ in range(2)
        ]
        build.out.teams.append(
            {
                "name": f"{community.name}应急队",
                "kind": "community_team",
                "street": community.street,
                "community": community.code,
                "unit_code": None,
                "members": workers + members_of.get(community.code, [])[:3],
            }
        )


def _care_households(
    build: _Builder, communities: list[Place], members_of: dict[str, list[str]]
) -> None:
    """Care households, paired with a Party branch of someone living in the community."""
    rng, out = build.rng, build.out
    serial_h = 0
    for community in communities:
        local = members_of.get(community.code, [])
        for _ in range(rng.randint(8, 18)):
            serial_h += 1
            kind = rng.choices(("low_income", "student", "elderly_alone"), (70, 15, 15))[0]
            needs = sorted(set(rng.sample(CARE_NEEDS[kind], rng.randint(1, 2))))
            branch = None
            if local:
                helper = out.people[int(rng.choice(local)[1:]) - 1]
                branch = helper["party_branch"]
            out.care_households.append(
                {
                    "code": f"H{serial_h:05d}",
                    "kind": kind,
                    "community": community.code,
                    "street": community.street,
                    "head_name": build.names.person(),
                    "phone": build.names.phone(),
                    "address": build.names.address(community),
                    "members": 1 if kind == "elderly_alone" else rng.randint(1, 5),
                    "needs": needs,
                    "paired_branch": branch,
                }
            )


def _squad_skills(rng: random.Random) -> list[str]:
    pool = {s: SKILL_WEIGHTS[s] for s in SQUAD_SKILLS}
    return sorted({*_skills(rng, 2, pool), rng.choice(SQUAD_SKILLS)})


def _pairing(
    rng: random.Random, unit: dict[str, object], community: Place, signed: date, years: int
) -> dict[str, object]:
    return {
        "unit_code": unit["code"],
        "community": community.code,
        "street": community.street,
        "signed_on": signed,
        "valid_from": signed,
        "valid_until": signed + timedelta(days=365 * years),
        "pledged_people": rng.randint(5, 30),
        "pledged_skills": _skills(rng, 3),
    }
