"""Matchmaking rules benchmark: tickets matched per CPU second over the four activities.

    python bench/matchmaking_rules.py [--tickets 10000] [--arrival 60] [--seed 1]

Generates ``--tickets`` seeded random tickets for one pool over the classic
pack's activities (dungeon finder, battleground 10v10, arena 2v2 and 3v3):
levels, ratings, dungeon roles and some parties. They arrive evenly over
``--arrival`` simulated seconds; every 250 ms step adds the arrivals to their
queue and calls ``Queue.match(now)`` on each, as the matchmaker's leader
does, until every ticket has arrived, every rating window is at its maximum
and a step forms no match. CPU time (``time.process_time``) covers adding and
matching. Prints figures only.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.errors import InvalidInput
from realmkit.matchmaking.queue import Queue
from realmkit.matchmaking.rules import ActivityRules, Ticket, WindowSettings

STEP = 0.25
SHARE = {"dungeon": 0.3, "battleground": 0.3, "arena2v2": 0.2, "arena3v3": 0.2}
SOLO_ROLES = [
    ({"damage"}, 55),
    ({"tank"}, 12),
    ({"healer"}, 15),
    ({"tank", "damage"}, 8),
    ({"healer", "damage"}, 7),
    (set(), 3),
]


def classic_rules() -> dict[str, ActivityRules]:
    """The classic pack's activities, keyed by queue name."""
    rules = {}
    for act in load_pack(classic_pack_path()).activities.values():
        size = act.teams[0].size
        key = f"arena{size}v{size}" if act.kind == "arena" else act.kind
        rules[key] = ActivityRules.from_activity(act, key=key, rated=act.kind == "arena")
    return rules


class Maker:
    """Seeded random tickets; character ids are unique across the pool."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.next_character = 1

    def party(self, sizes: list[int], weights: list[int]) -> tuple[int, ...]:
        n = self.r.choices(sizes, weights)[0]
        ids = tuple(range(self.next_character, self.next_character + n))
        self.next_character += n
        return ids

    def roles(self, n: int) -> tuple[frozenset[str], ...]:
        sets, weights = zip(*SOLO_ROLES, strict=True)
        return tuple(frozenset(self.r.choices(sets, weights)[0]) for _ in range(n))

    def ticket(self, key: str, ticket_id: int, at: float) -> Ticket:
        r = self.r
        if key == "dungeon":
            members = self.party([1, 2, 3, 5], [75, 13, 8, 4])
            roles = self.roles(len(members))
        elif key == "battleground":
            members = self.party([1, 2, 3, 5], [75, 12, 8, 5])
            roles = ()
        elif key == "arena2v2":
            members = self.party([1, 2], [50, 50])
            roles = ()
        else:
            members = self.party([1, 2, 3], [40, 20, 40])
            roles = ()
        return Ticket(
            ticket_id=ticket_id,
            members=members,
            levels=tuple(r.randint(10, 60) for _ in members),
            roles=roles,
            rating=max(0, round(r.gauss(1500, 250))),
            queued_at=at,
        )


def generate(
    count: int, arrival: float, seed: int, fits: Callable[[str, Ticket], bool]
) -> list[tuple[str, Ticket]]:
    """``count`` tickets in arrival order; a dungeon party no role split fits is drawn again."""
    maker = Maker(seed)
    keys, weights = zip(*SHARE.items(), strict=True)
    out = []
    for i in range(count):
        key = maker.r.choices(keys, weights)[0]
        at = arrival * i / count
        while not fits(key, t := maker.ticket(key, i + 1, at)):
            pass
        out.append((key, t))
    return out


def run(count: int, arrival: float, seed: int) -> None:
    window = WindowSettings(start=100, widen_per_second=10, maximum=1000)
    queues = {key: Queue(rules, window) for key, rules in classic_rules().items()}
    probe = {key: Queue(rules, window) for key, rules in classic_rules().items()}

    def fits(key: str, t: Ticket) -> bool:
        try:
            probe[key].check(t)
        except InvalidInput:
            return False
        return True

    tickets = generate(count, arrival, seed, fits)
    widen_for = (window.maximum - window.start) / window.widen_per_second
    matches = dict.fromkeys(queues, 0)
    matched = dict.fromkeys(queues, 0)
    waits: list[float] = []
    steps = 0
    nxt = 0
    cpu0 = time.process_time()
    now = 0.0
    while True:
        while nxt < len(tickets) and tickets[nxt][1].queued_at <= now:
            key, t = tickets[nxt]
            queues[key].add(t)
            nxt += 1
        formed = 0
        for key, q in queues.items():
            for m in q.match(now):
                formed += 1
                matches[key] += 1
                for t in m.tickets():
                    matched[key] += 1
                    waits.append(now - t.queued_at)
        steps += 1
        if nxt == len(tickets) and formed == 0 and now >= arrival + widen_for:
            break
        now += STEP
    cpu = time.process_time() - cpu0
    total = sum(matched.values())
    print(f"tickets {count}, arrival over {arrival:g} s, {steps} steps of 250 ms ({now:g} s)")
    print(f"{'activity':14} {'tickets':>8} {'matches':>8} {'matched':>8} {'left over':>10}")
    for key, q in queues.items():
        queued = sum(1 for k, _ in tickets if k == key)
        print(f"{key:14} {queued:8} {matches[key]:8} {matched[key]:8} {len(q):10}")
    waits.sort()
    p50 = waits[len(waits) // 2] if waits else 0.0
    print(f"tickets matched {total}, CPU {cpu:.3f} s, {total / cpu:,.0f} tickets/s")
    print(f"wait p50 {p50:.1f} s (simulated)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000, help="tickets to generate")
    parser.add_argument(
        "--arrival", type=float, default=60.0, help="seconds over which they arrive"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    run(args.tickets, args.arrival, args.seed)


if __name__ == "__main__":
    main()
