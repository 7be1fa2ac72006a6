#!/usr/bin/python3
"""Checks scripts/gen_registry.py's pinned_fields() on crafted table rows
(run by tests/registry/generator_test.cpp); prints "ok" when every rule holds."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
import gen_registry as g  # noqa: E402

URL = "https://download.pytorch.org/models/m-abcdef12.pth"
FULL = "abcdef12" + "3" * 56


def row(**kw):
    r = {"builder": "m", "weights_tag": "V1", "file_name": "m-abcdef12.pth", "url": URL, "sha256": "",
         "size": "", "sources": "0", "evidence": ""}
    r.update(kw)
    return r


def fields(published, observed=None):
    g.published_hashes = lambda: {("m", "V1"): published} if published else {}
    g.observed_hashes = lambda: {("m", "V1"): observed} if observed else {}
    return g.pinned_fields("m", "V1", URL)


def refused(published, observed=None, text=""):
    try:
        fields(published, observed)
    except SystemExit as e:
        assert text in str(e), (text, str(e))
        return
    raise AssertionError(f"expected a refusal mentioning {text!r}")


assert fields(row()) == {"sha256_prefix": "abcdef12", "size": None}
assert fields(row(sha256=FULL, sources="2", size="10", evidence="a [+size]; b [size only: x]")) == {
    "sha256": FULL, "hash_confidence": "multiple_sources", "size": 10, "size_confidence": "multiple_sources"}
assert fields(row(sha256=FULL, sources="1", size="10", evidence="a [+size]")) == {
    "sha256": FULL, "hash_confidence": "single_source", "size": 10, "size_confidence": "single_source"}
observed = {"builder": "m", "weights_tag": "V1", "file_name": "m-abcdef12.pth", "url": URL,
            "sha256": "9" * 64, "sources": "3", "evidence": "issue"}
assert fields(row(), observed) == {"sha256": "9" * 64, "hash_confidence": "multiple_sources", "size": None}
refused(None, text="no row")
refused(row(url="https://elsewhere/m-abcdef12.pth"), text="row names")
refused(row(sha256="0" * 64, sources="5"), text="starting with the name's token")
refused(row(sha256=FULL.upper(), sources="5"), text="64 lowercase hex")
refused(row(sha256=FULL, sources="0"), text="source count")
refused(row(size="10"), text="backed by a source")
refused(row(sha256=FULL, sources="2"), observed, text="also gives a digest")
refused(row(), dict(observed, sha256=FULL), text="starts with the name's token")
print("ok")
