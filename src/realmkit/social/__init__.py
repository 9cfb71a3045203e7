"""Sans-I/O social rules: guild ranks (who may do what to whom, who leads next),
and the names of guilds and chat channels.

The stores (``realmkit.store.friends``, ``chat``, ``guilds``) load the rows,
ask these rules and write what they allow; nothing here touches I/O.
"""
