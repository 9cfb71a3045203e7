"""Content packs: folders of TOML/JSON data validated into msgspec Structs."""
