"""`realmkit bots --social` on a real cluster: bots chat, whisper and trade among
themselves, and the SQL invariants hold after."""

from __future__ import annotations

import json

from invariants import check_invariants, conservation, fetch, owned_items

WAIT = 60.0
DURATION = 40


async def test_social_bots_hear_each_other_and_trade(cluster, run_realmkit) -> None:  # type: ignore[no-untyped-def]
    """`realmkit bots -n 4 --social`: the bots join general and trade, talk there and
    whisper each other; each pair meets and trades (nothing for nothing: bots have no
    money). The summary counts messages heard from other bots and committed trades,
    as many as the database holds between bot characters, and nothing was cut off;
    items and money are as they were."""
    items = await owned_items(cluster.database_url)
    totals = await conservation(cluster.database_url)
    proc = run_realmkit(
        "bots",
        "-n",
        "4",
        "--social",
        "--duration",
        str(DURATION),
        "--login",
        cluster.login_url,
        "--json",
        env={"REALMKIT_CONFIG": str(cluster.node_file)},
    )
    stdout, stderr = proc.communicate(timeout=DURATION + WAIT)
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["entered"] == 4, json.dumps(summary)
    assert summary["errors"] == 0, json.dumps(summary)
    assert summary["chat_sent"] > 0, json.dumps(summary)
    assert summary["chat_received"] > 0, json.dumps(summary)
    assert summary["trades_committed"] >= 1, json.dumps(summary)
    committed = await fetch(
        cluster.database_url,
        "SELECT t.trade_id FROM social.trades t "
        "JOIN characters.characters a ON a.character_id = t.a_id "
        "JOIN characters.characters b ON b.character_id = t.b_id "
        "WHERE t.state = 'committed' AND a.name LIKE 'Bot%' AND b.name LIKE 'Bot%'",
    )
    assert len(committed) == summary["trades_committed"], (committed, summary)
    assert await conservation(cluster.database_url) == totals
    await check_invariants(cluster.database_url, items)
