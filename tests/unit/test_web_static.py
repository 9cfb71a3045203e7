"""The browser client's files: where they are, the path check, the error meanings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from realmkit.errors import NotFound
from realmkit.nodes.login.static import STATIC_ROOT, safe_path

SRC = Path(__file__).parents[2] / "src" / "realmkit"
ERRORS_PY = SRC / "errors.py"


def test_the_client_page_and_its_modules_are_in_the_package() -> None:
    """index.html, the modules it loads and the vendored msgpack bundle (with its
    licence) live inside the package, so a wheel carries them."""
    for name in [
        "index.html",
        "js/main.js",
        "js/codec.js",
        "css/client.css",
        "vendor/msgpack/msgpack.min.js",
        "vendor/msgpack/LICENSE.txt",
    ]:
        assert (STATIC_ROOT / name).is_file(), name


@pytest.mark.parametrize(
    "path",
    [
        "../__init__.py",
        "js/../../__init__.py",
        "/etc/passwd",
        "js\\..\\x.js",
        ".x.js",
        "",
        "js",
        "a\x00.js",
        "vendor/msgpack/LICENSE",
        "js/./main.js",
        "js//main.js",
    ],
)
def test_paths_outside_the_folder_or_of_unknown_types_are_not_found(path: str) -> None:
    """Dot parts, absolute paths, backslashes, NULs, folders and unknown types: 404."""
    with pytest.raises(NotFound):
        safe_path(STATIC_ROOT, path)


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    """A link inside the folder to a file outside it is refused."""
    root = tmp_path / "static"
    root.mkdir()
    (tmp_path / "secret.js").write_text("x")
    (root / "link.js").symlink_to(tmp_path / "secret.js")
    (root / "ok.js").write_text("y")
    assert safe_path(root, "ok.js") == (root / "ok.js").resolve()
    with pytest.raises(NotFound):
        safe_path(root, "link.js")


def test_every_error_code_has_a_meaning_in_the_client() -> None:
    """Each stable code a player can be sent (realmkit.errors, and the gateway's own:
    refusals, strikes, error frames) is explained in js/errors.js."""
    codes = set(re.findall(r'^\s+code = "([A-Z_]+)"', ERRORS_PY.read_text(), re.M))
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        codes |= set(re.findall(r'(?:Refusal|_strike|ErrorFrame)\(\s*"([A-Z_]+)"', text))
    table = (STATIC_ROOT / "js" / "errors.js").read_text()
    explained = set(re.findall(r"^\s+([A-Z_]+): \"", table, re.M))
    assert codes, "no codes found in errors.py"
    assert codes <= explained, sorted(codes - explained)
