"""Chat, whispers, chat history and trades on this machine (issue 18).

One fresh cluster (`realmkit up`: login, 2 gateways, orchestrator, world node)
in a temporary folder on free loopback ports, and light clients in this process
(`LightClient`: frame headers only, every `chat_message` handed to a hook with
its arrival time), registered, scattered over the continent where they stand
still, split evenly between the two gateways, all members of the realm channel
`general` (joined in the store before they enter, as a returning player would
be). Then, in order:

1. realm channel: for each of `--counts` (members added between levels),
   `--rate` messages a second for `--seconds`, each from the next member in
   turn (so no player nears its limits: 2/s, 1/s per channel). Per message, the
   time from its send to its arrival on the first and on the last member's
   socket; the gateways' CPU during the window (the same window's length
   measured without chat first, standing players cost something) per message
   delivered; every server role's CPU, this process's, the machine's;
2. whispers: `--pairs` pairs, one player on each gateway, `--rounds` round
   trips each (a whisper, its answer back), one round a second;
3. history: `--history` messages (default 50/s x 600 s) of one channel put in
   the `CHAT` stream directly (the gateway's subjects and `ChatRecord`), then
   `NatsBus.replay` of a member's subjects timed (as a resume asks, at most the
   gateway's `REPLAY_LIMIT`, and all of them), and end to end: a member whose
   gateway was killed (SIGKILL) before they were stored resumes through the
   other gateway with `chat_after` and gets them;
4. trades: the cluster stopped, a PostgreSQL of its own (the embedded one,
   durable: fsync and synchronous commit on), `--trade-pairs` pairs of
   characters in the world trading for `--trade-seconds` (open, offer x2,
   accept x2, one item and some money each way) through `TradeRepo`:
   trades committed per second.

    .venv/bin/python bench/social.py
    .venv/bin/python bench/social.py --counts 250,500,1000 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import aiohttp
import asyncpg
import psutil

from cluster_ccu import cpu_of, finish_profiles, start_profiles
from local_cluster import LocalCluster
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.client.light import LightClient
from realmkit.client.login import LoginClient
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.nodes.gateway.social import REPLAY_LIMIT, Social
from realmkit.protocol.client import Resume
from realmkit.protocol.social import WHISPER, ChatMessage, ChatRecord, ChatSend, Whisper
from realmkit.seed import seed_if_empty
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database
from realmkit.store.social import SocialRepo
from realmkit.store.trades import TradeRepo

ROLES = [
    ("login", "login"),
    ("gateway-1", "gateway"),
    ("gateway-2", "gateway"),
    ("orchestrator-1", "orchestrator"),
    ("world-1", "world"),
]
CHANNEL = "general"
BUSY = "busy"  # the channel whose history is replayed
TEXT = "anyone up for the sunken temple? need a healer and one more dps, pst"
PASSWORD = "social-bench-password"  # noqa: S105 (the bench's accounts)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ms(values: list[float]) -> str:
    v = [1000 * x for x in values]
    return f"p50 {pct(v, 0.5):.1f} ms, p99 {pct(v, 0.99):.1f} ms, max {max(v, default=0):.1f} ms"


def role_of(name: str) -> str:
    if name.startswith("postgres"):
        return "postgres"
    return dict(ROLES).get(name, name)


def by_role(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, t in after.items():
        role = role_of(name)
        out[role] = out.get(role, 0.0) + t - before.get(name, 0.0)
    return out


class Player:
    """A bench player: its login, character and light client."""

    def __init__(self, index: int, name: str, character_id: int, api: LoginClient) -> None:
        self.index = index
        self.name = name
        self.character_id = character_id
        self.api = api
        self.client: LightClient | None = None
        self.gateway = ""


class Chat:
    """What the clients' hooks saw: per chat id, arrivals and the first and last time."""

    def __init__(self) -> None:
        # id -> [arrivals, first, last, text]
        self.seen: dict[int, list[object]] = {}
        self.whisper: Callable[[Player, ChatMessage, float], None] | None = None
        self.busy = 0
        self.busy_done = asyncio.Event()
        self.busy_expected = 0

    def hook(self, player: Player) -> Callable[[ChatMessage, float], None]:
        seen = self.seen

        def on_chat(message: ChatMessage, at: float) -> None:
            if message.channel == CHANNEL:
                rec = seen.get(message.id)
                if rec is None:
                    seen[message.id] = [1, at, at, message.text]
                else:
                    rec[0] += 1  # type: ignore[operator]
                    rec[2] = at
            elif message.channel == WHISPER:
                if self.whisper is not None:
                    self.whisper(player, message, at)
            elif message.channel == BUSY:
                self.busy += 1
                if self.busy >= self.busy_expected:
                    self.busy_done.set()

        return on_chat


async def register(http: aiohttp.ClientSession, login: str, first: int, count: int) -> list[Player]:
    """``count`` accounts with one character each on the first realm (argon2 on the
    login node: a few at a time)."""
    gate = asyncio.Semaphore(4)

    async def one(i: int) -> Player:
        async with gate:
            api = LoginClient(login, http)
            await api.register_or_login(f"social_{i}", f"{PASSWORD}-{i}")
            realm = (await api.realms())[0]
            name = "Chat" + "".join(chr(97 + int(d)) for d in str(i))
            character = await api.character(realm.realm_id, name)
            return Player(i, name, character.character_id, api)

    return list(await asyncio.gather(*(one(i) for i in range(first, first + count))))


async def prepare(database_url: str, players: list[Player], busy: list[Player]) -> int:
    """Scatter the characters over the continent (they stand still), make them members
    of ``general`` (and ``busy``: those given); the realm's id."""
    conn = await asyncpg.connect(database_url)
    try:
        ids = [p.character_id for p in players]
        realm_id: int = await conn.fetchval(
            "SELECT realm_id FROM characters.characters WHERE character_id = $1", ids[0]
        )
        await conn.execute(
            "UPDATE characters.characters SET map_id = 1, pos_x = 100 + random() * 1800, "
            "pos_y = 100 + random() * 1800, pos_z = 10 WHERE character_id = ANY($1::bigint[])",
            ids,
        )
        for channel, members in ((CHANNEL, ids), (BUSY, [p.character_id for p in busy])):
            await conn.execute(
                "INSERT INTO social.channels (realm_id, name) VALUES ($1, $2) "
                "ON CONFLICT DO NOTHING",
                realm_id,
                channel,
            )
            await conn.execute(
                "INSERT INTO social.channel_members (character_id, realm_id, channel) "
                "SELECT unnest($1::bigint[]), $2, $3 ON CONFLICT DO NOTHING",
                members,
                realm_id,
                channel,
            )
    finally:
        await conn.close()
    return realm_id


async def enter(players: list[Player], chat: Chat, gateways: list[str]) -> None:
    """Every player into the world, alternately through each gateway."""
    gate = asyncio.Semaphore(16)

    async def one(p: Player) -> None:
        async with gate:
            ticket = await p.api.ticket(p.character_id)
            if ticket.gateway_url not in gateways:
                gateways.append(ticket.gateway_url)
            url = gateways[p.index % len(gateways)] if len(gateways) == 2 else ticket.gateway_url
            p.client = await LightClient.connect(url, ticket.ticket, timeout=30)
            p.client.on_chat = chat.hook(p)
            p.gateway = url

    await asyncio.gather(*(one(p) for p in players))


class Window:
    """CPU of the server's processes, this process and the machine over a window."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.me = psutil.Process()

    def __enter__(self) -> Window:
        self.procs = self.cluster.server_processes()
        self.before = cpu_of(self.procs)
        self.mine = sum(self.me.cpu_times()[:2])
        psutil.cpu_percent(None)
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self.started
        self.roles = by_role(self.before, cpu_of(self.procs))
        self.bench = sum(self.me.cpu_times()[:2]) - self.mine
        self.busy = psutil.cpu_percent(None)
        self.load = os.getloadavg()[0]

    def summary(self) -> str:
        roles = ", ".join(
            f"{r} {100 * c / self.seconds:.1f}"
            for r, c in sorted(self.roles.items(), key=lambda kv: -kv[1])
        )
        return (
            f"CPU % of a core: {roles}; bench {100 * self.bench / self.seconds:.1f}; "
            f"machine {self.busy:.0f}% busy, load {self.load:.2f}"
        )


async def channel_level(
    args: argparse.Namespace, cluster: LocalCluster, players: list[Player], chat: Chat
) -> None:
    n = len(players)
    print(f"[channel] {n} members: {args.seconds:.0f} s without chat, then with", flush=True)
    with Window(cluster) as idle:
        await asyncio.sleep(args.seconds)  # the baseline: players standing, no chat
    print(f"  without chat: {idle.summary()}", flush=True)
    sent: dict[str, float] = {}
    profiles = {}
    with Window(cluster) as busy:
        if args.profile and n == max(args.counts):
            profiles = start_profiles(busy.procs, ("gateway-1",), args.seconds, args.profile, n)
        period = 1.0 / args.rate
        started = time.monotonic()
        total = int(args.rate * args.seconds)
        for k in range(total):
            p = players[(k + n // 2) % n]  # the next member in turn
            assert p.client is not None
            text = f"{n}.{k}: {TEXT}"
            sent[text] = time.monotonic()
            await p.client.send(ChatSend(CHANNEL, text))
            delay = started + (k + 1) * period - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the send rate's pace
        # The window ends when the last message is everywhere (or 5 s after the last send).
        deadline = time.monotonic() + 5.0
        texts = set(sent)
        while time.monotonic() < deadline:
            done = [r for r in chat.seen.values() if r[3] in texts]
            if len(done) == total and all(r[0] == n for r in done):
                break
            await asyncio.sleep(0.05)  # polling the hooks' tallies
    found = [chat.seen.pop(i) for i in [i for i, r in chat.seen.items() if r[3] in sent]]
    first = [float(r[1]) - sent[str(r[3])] for r in found]  # type: ignore[arg-type]
    last = [float(r[2]) - sent[str(r[3])] for r in found]  # type: ignore[arg-type]
    delivered = sum(int(r[0]) for r in found)  # type: ignore[call-overload]
    gw_busy = busy.roles.get("gateway", 0.0)
    gw_idle = idle.roles.get("gateway", 0.0) * busy.seconds / idle.seconds
    print(
        f"  sent {total} at {args.rate:g}/s, {len(found)} arrived, {delivered} deliveries "
        f"of {total * n} ({100 * delivered / max(1, total * n):.2f}%)",
        flush=True,
    )
    print(f"  send -> first member: {ms(first)}", flush=True)
    print(f"  send -> last member:  {ms(last)}", flush=True)
    print(
        f"  gateways: {gw_busy:.2f} CPU-s in {busy.seconds:.1f} s = "
        f"{1e6 * gw_busy / max(1, delivered):.1f} us per delivery "
        f"({1e6 * (gw_busy - gw_idle) / max(1, delivered):.1f} us above standing players' "
        f"{gw_idle:.2f} CPU-s)",
        flush=True,
    )
    print(f"  with chat: {busy.summary()}", flush=True)
    print_profiles(profiles)


def print_profiles(profiles: dict[str, tuple[subprocess.Popen[bytes], Path]]) -> None:
    for name, summary in finish_profiles(profiles).items():
        assert isinstance(summary, dict)
        print(f"  py-spy of {name}, {summary['busy_samples']} busy samples; own time:")
        for function, share in summary["self"][:8]:
            print(f"    {share:5.1f}%  {function})", flush=True)


async def whispers(args: argparse.Namespace, players: list[Player], chat: Chat) -> None:
    by_gateway: dict[str, list[Player]] = {}
    for p in players:
        by_gateway.setdefault(p.gateway, []).append(p)
    sides = list(by_gateway.values())
    if len(sides) < 2:
        print("[whispers] every player is on one gateway: skipped", flush=True)
        return
    pairs = list(zip(sides[0], sides[1], strict=False))[: args.pairs]
    print(
        f"[whispers] {len(pairs)} pairs across gateways, {args.rounds} rounds "
        f"({len(pairs)} round trips a second, no channel chat)",
        flush=True,
    )
    asked: dict[str, tuple[float, asyncio.Future[float]]] = {}
    refused = 0

    def on_whisper(p: Player, message: ChatMessage, at: float) -> None:
        if message.to:
            return  # our own copy
        assert p.client is not None
        if message.text.startswith("q"):
            p.client._send_now(Whisper(message.sender, "a" + message.text[1:]))
        else:
            started, done = asked.pop("q" + message.text[1:], (0.0, None))
            if done is not None and not done.done():
                done.set_result(at - started)

    chat.whisper = on_whisper
    loop = asyncio.get_running_loop()
    rtts: list[float] = []
    for r in range(args.rounds):
        started = time.monotonic()
        futures = []
        for i, (a, b) in enumerate(pairs):
            assert a.client is not None
            text = f"q{r}.{i}"
            # The pairs' whispers spread over the second, as players' would be.
            await asyncio.sleep(max(0.0, started + i / len(pairs) - time.monotonic()))
            done: asyncio.Future[float] = loop.create_future()
            asked[text] = (time.monotonic(), done)
            futures.append(done)
            a.client._send_now(Whisper(b.name, text))
        results = await asyncio.gather(
            *(asyncio.wait_for(f, 10) for f in futures), return_exceptions=True
        )
        rtts += [x for x in results if isinstance(x, float)]
        refused += sum(1 for x in results if not isinstance(x, float))
        await asyncio.sleep(max(0.0, started + 1.1 - time.monotonic()))  # under 1/s each
    chat.whisper = None
    print(f"  round trip: n={len(rtts)} {ms(rtts)}; {refused} not answered", flush=True)


async def history(
    args: argparse.Namespace,
    cluster: LocalCluster,
    gateways: list[str],
    resumer: Player,
    chat: Chat,
) -> None:
    nats_url, database_url = cluster.urls()
    bus = await NatsBus.connect(nats_url, name="bench-social")
    db = await Database.connect(database_url, max_size=2)
    try:
        ctx = await SocialRepo(db).context(resumer.character_id)
        client = resumer.client
        assert client is not None
        token = client.resume_token
        # Its gateway dies (a socket lost otherwise is a logout): it will resume
        # through the other one, asking for what it missed.
        nodes = tomllib.loads((cluster.root / "realmkit.toml").read_text())["nodes"]
        port = int(resumer.gateway.split(":")[-1].split("/")[0])
        name = next(n["name"] for n in nodes if n["port"] == port)
        os.kill(cluster.node_pid(name), signal.SIGKILL)
        await client.closed.wait()
        other = next(g for g in gateways if g != resumer.gateway)
        print(f"[history] {args.history} messages of one channel into the stream", flush=True)
        subject = subjects.chat_channel(ctx.realm_id, BUSY)
        record = ChatRecord(BUSY, ctx.realm_id, 1, "Filler", ctx.realm_id, ctx.realm, TEXT)
        started = time.monotonic()
        first = 0
        batch = 500
        for at in range(0, args.history, batch):
            seqs = await asyncio.gather(
                *(
                    bus.publish_persistent(subject, record)
                    for _ in range(min(batch, args.history - at))
                )
            )
            first = first or min(seqs)
        filled = time.monotonic() - started
        print(f"  filled in {filled:.1f} s ({args.history / filled:.0f} msg/s)", flush=True)
        after = first - 1
        subs = Social._subjects_of(ctx)
        profiles = {}
        if args.profile:  # this process, replaying
            profiles = start_profiles({"bench": psutil.Process()}, ("bench",), 8, args.profile, 0)
        for limit in (REPLAY_LIMIT, args.history):
            times = []
            got = 0
            for _ in range(3):
                t0 = time.perf_counter()
                got = len(
                    await bus.replay(subjects.CHAT_STREAM, subs, after, ChatRecord, limit=limit)
                )
                times.append(time.perf_counter() - t0)
            print(
                f"  NatsBus.replay of {len(subs)} subjects, limit {limit}: {got} messages in "
                f"{', '.join(f'{t:.2f}' for t in times)} s",
                flush=True,
            )
        print_profiles(profiles)
        chat.busy = 0
        chat.busy_expected = min(REPLAY_LIMIT, args.history)
        chat.busy_done.clear()
        client._entered = asyncio.get_running_loop().create_future()
        t0 = time.perf_counter()
        await client._greet(other, Resume(token, chat_after=after), 60)
        entered = time.perf_counter() - t0
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(chat.busy_done.wait(), 120)
        print(
            f"  resume with chat_after: new_world after {entered:.2f} s, "
            f"{chat.busy} messages after {time.perf_counter() - t0:.2f} s "
            f"(the gateway replays the last {REPLAY_LIMIT})",
            flush=True,
        )
    finally:
        await db.close()
        await bus.close()


async def social(args: argparse.Namespace, cluster: LocalCluster) -> None:
    _, database_url = cluster.urls()
    login = cluster.login.rstrip("/")
    chat = Chat()
    players: list[Player] = []
    gateways: list[str] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        for count in args.counts:
            started = time.monotonic()
            new = await register(http, login, len(players), count - len(players))
            await prepare(database_url, new, new[:1] if not players else [])
            await enter(new, chat, gateways)
            players += new
            split = {g: sum(1 for p in players if p.gateway == g) for g in gateways}
            print(
                f"[enter] {len(players)} players in the world ({split}) "
                f"in {time.monotonic() - started:.0f} s",
                flush=True,
            )
            await asyncio.sleep(3)  # the last ones' first frames, the seats settled
            await channel_level(args, cluster, players, chat)
        await whispers(args, players, chat)
        await history(args, cluster, gateways, players[0], chat)
        for p in players:
            if p.client is not None:
                with contextlib.suppress(OSError):
                    await p.client.close()


async def trades(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="realmkit-trades-"))
    pg = EmbeddedPostgres(root / "postgres")
    pg.start()
    try:
        db = await Database.connect(pg.url(), max_size=args.trade_pool)
        await migrate(db)
        await seed_if_empty(db)
        n = 2 * args.trade_pairs
        print(f"[trades] {args.trade_pairs} pairs, pool of {args.trade_pool}", flush=True)
        async with db.connection() as conn:
            realm, pool = await conn.fetchrow(
                "SELECT realm_id, pool_id FROM auth.realmlist ORDER BY realm_id LIMIT 1"
            )
            await conn.execute(
                "INSERT INTO auth.accounts (username, password_hash) "
                "SELECT 'trader_' || n, 'not-a-hash' FROM generate_series(1, $1) n",
                n,
            )
            ids = [
                r[0]
                for r in await conn.fetch(
                    "INSERT INTO characters.characters (account_id, realm_id, name, map_id, "
                    "pos_x, pos_y, pos_z, hp, money) "
                    "SELECT a.account_id, $1, 'T' || translate(a.account_id::text, "
                    "'0123456789', 'abcdefghij'), 1, 100, 100, 10, 100, 1000000 "
                    "FROM auth.accounts a WHERE username LIKE 'trader_%' "
                    "ORDER BY a.account_id RETURNING character_id",
                    realm,
                )
            ]
            items = [
                r[0]
                for r in await conn.fetch(
                    "INSERT INTO characters.items (item_id, template_id, owner_character_id, "
                    "stack_count) SELECT 1000000000 + ord, 1, c, 1 "
                    "FROM unnest($1::bigint[]) WITH ORDINALITY AS t(c, ord) "
                    "ORDER BY ord RETURNING item_id",
                    ids,
                )
            ]
            instance = await conn.fetchval(
                "INSERT INTO characters.instances (game_id, map_id, kind, pool_id, capacity) "
                "VALUES ('classic', 1, 'dungeon', $1, $2) RETURNING instance_id",
                pool,
                n,
            )
            await conn.execute(
                "INSERT INTO characters.player_assignments (character_id, instance_id, epoch, "
                "state) SELECT unnest($1::bigint[]), $2, 1, 'in_world'",
                ids,
                instance,
            )
        repo = TradeRepo(db)
        committed = 0
        latencies: list[float] = []
        stop = time.monotonic() + args.trade_seconds

        async def pair(a: int, b: int, item_a: int, item_b: int) -> None:
            nonlocal committed
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                t = await repo.open(a, b)
                await repo.offer(t.trade_id, a, [item_a], 3)
                v = (await repo.offer(t.trade_id, b, [item_b], 1)).version
                await repo.accept(t.trade_id, a, v)
                done = await repo.accept(t.trade_id, b, v)
                if done.state.value != "committed":
                    raise SystemExit(f"trade not committed: {done}")
                latencies.append(time.perf_counter() - t0)
                committed += 1
                item_a, item_b = item_b, item_a  # each now holds the other's

        me = psutil.Process()
        procs = {"postgres": psutil.Process(pg.pid() or 0)}
        procs.update({f"pg-{c.pid}": c for c in procs["postgres"].children(recursive=True)})
        before = cpu_of(procs)
        mine = sum(me.cpu_times()[:2])
        psutil.cpu_percent(None)
        started = time.monotonic()
        await asyncio.gather(
            *(
                pair(ids[2 * i], ids[2 * i + 1], items[2 * i], items[2 * i + 1])
                for i in range(args.trade_pairs)
            )
        )
        took = time.monotonic() - started
        # Backends the pool opened during the run count whole.
        procs.update({f"pg-{c.pid}": c for c in procs["postgres"].children(recursive=True)})
        pg_cpu = sum(t - before.get(name, 0.0) for name, t in cpu_of(procs).items())
        print(
            f"  {committed} trades committed in {took:.1f} s: {committed / took:.0f}/s "
            f"({5 * committed / took:.0f} transactions/s); per trade {ms(latencies)}",
            flush=True,
        )
        print(
            f"  CPU % of a core: PostgreSQL {100 * pg_cpu / took:.0f}, bench "
            f"{100 * (sum(me.cpu_times()[:2]) - mine) / took:.0f}; machine "
            f"{psutil.cpu_percent(None):.0f}% busy, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        mean = statistics.mean(latencies) if latencies else 0.0
        print(f"  mean trade {1000 * mean:.1f} ms", flush=True)
        await db.close()
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="250,500,1000", help="channel members, level by level")
    parser.add_argument("--rate", type=float, default=50.0, help="channel messages a second")
    parser.add_argument("--seconds", type=float, default=15.0, help="each level's window")
    parser.add_argument("--pairs", type=int, default=50, help="whisper pairs")
    parser.add_argument("--rounds", type=int, default=5, help="whisper round trips per pair")
    parser.add_argument("--history", type=int, default=30_000, help="messages replayed")
    parser.add_argument("--trade-pairs", type=int, default=100)
    parser.add_argument("--trade-pool", type=int, default=16, help="PostgreSQL connections")
    parser.add_argument("--trade-seconds", type=float, default=15.0)
    parser.add_argument("--skip", default="", help="phases to skip: chat,trades")
    parser.add_argument("--profile", type=Path, help="py-spy gateway-1 at the top level here")
    parser.add_argument("--keep-logs", type=Path, help="copy the nodes' logs here")
    args = parser.parse_args()
    args.counts = [int(c) for c in args.counts.split(",")]
    skip = set(args.skip.split(","))
    if "chat" not in skip:
        cluster = LocalCluster(ROLES, "realmkit-social-", '[scaling]\nlauncher = "none"\n\n')
        try:
            cluster.start()
            asyncio.run(social(args, cluster))
        finally:
            cluster.stop(args.keep_logs)
    if "trades" not in skip:
        asyncio.run(trades(args))


if __name__ == "__main__":
    main()
