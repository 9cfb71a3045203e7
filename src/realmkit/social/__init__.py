"""Sans-I/O social rules: guild ranks (who may do what to whom, who leads next),
the names of guilds and chat channels, what a player may say (``chat``), and
trades (``trade``).

The stores (``realmkit.store.friends``, ``chat``, ``guilds``, ``mail``,
``trades``) load the rows, ask these rules and write what they allow; nothing
here touches I/O.
"""
