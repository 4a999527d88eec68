"""Cassettes other tools recorded, in every layout real projects commit, replay through today's SDKs.

The cassettes are made the way they are made in the wild: recorded by vcrpy itself against the loopback
provider (canonical YAML with string bodies, ``!!binary`` gzip bodies, vcrpy's JSON serializer, and
pydantic-ai's serializer plugged into vcrpy), or derived by hand from the documented layouts (vcrpy's
legacy httpx layout, aiohttp's multidict ``istr`` tags, brotli/zstd bodies, no request headers,
``content-encoding`` left on decoded bodies, ``.yaml.gz``, requests of older SDKs). Each replays through
the plugin with the real SDKs, body still matched, and gives what the live run gave.
"""

from __future__ import annotations

import array
import base64
import copy
import gzip
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_llmops.cassette import Cassette, CassetteData, Interaction, load_cassette
from pytest_llmops.errors import CassetteError, CassetteMiss
from pytest_llmops.formats import MAX_CASSETTE_BYTES, load

TESTS = Path(__file__).parent
SHARED = Path(__file__).parents[2] / "shared"
CORPUS = SHARED / "data" / "cassettes"


# -- making the cassettes --------------------------------------------------------------------------
class PydanticAISerializer:
    """pydantic-ai's vcrpy serializer (tests/json_body_serializer.py there), as its code documents it:
    header names lower-cased, noisy and secret headers dropped, JSON bodies stored as a parsed mapping
    under ``parsed_body``."""

    DROPPED: ClassVar[set[str]] = {"authorization", "date", "request-id", "server", "user-agent", "via", "set-cookie", "api-key"}

    @staticmethod
    def deserialize(text: str) -> Any:  # pragma: no cover - the plugin reads these files, not vcrpy
        data = yaml.safe_load(text)
        for interaction in data["interactions"]:
            for kind, part in interaction.items():
                parsed = part.pop("parsed_body", None)
                if parsed is not None:
                    dumped = json.dumps(parsed)
                    part["body"] = {"string": dumped} if kind == "response" else dumped
        return data

    @classmethod
    def serialize(cls, data: Any) -> str:
        for interaction in data["interactions"]:
            for part in interaction.values():
                headers = {k.lower(): v for k, v in part.get("headers", {}).items()}
                headers = {k: v for k, v in headers.items()
                           if k not in cls.DROPPED and not k.startswith(("anthropic-", "cf-", "x-"))}
                part["headers"] = headers
                if any(str(h).startswith("application/json") for h in headers.get("content-type", [])):
                    body = part.get("body")
                    body = body.get("string") if isinstance(body, dict) else body
                    if body is not None:
                        part["parsed_body"] = json.loads(body)
                        del part["body"]
        return yaml.dump(data, Dumper=_literal_dumper(), allow_unicode=True, width=120)


def _literal_dumper() -> Any:
    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s,
                                                                 style="|" if "\n" in s else None))
    return Dumper


class IStr(str):
    """A header name as aiohttp's multidict gave it to older vcrpy, which pickled it as a tag."""


def _istr_dumper() -> Any:
    class Dumper(yaml.Dumper):  # the full dumper, as older vcrpy used
        pass

    Dumper.add_representer(IStr, lambda d, s: d.represent_sequence(
        "tag:yaml.org,2002:python/object/apply:multidict._multidict.istr", [str(s)]))
    return Dumper


def _record_with_vcrpy(path: Path, **options: Any) -> dict[str, Any]:
    import format_calls
    import vcr

    recorder = vcr.VCR(record_mode="all", **options)
    if options.get("serializer") == "pydantic-ai":
        recorder.register_serializer("pydantic-ai", PydanticAISerializer)
    with recorder.use_cassette(str(path)):
        return format_calls.run_all()


def _transform(canonical: dict[str, Any], edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(canonical)
    for interaction in data["interactions"]:
        edit(interaction["request"], interaction["response"])
    return data


def _dump(path: Path, data: Any, dumper: Any = yaml.SafeDumper) -> None:
    path.write_text(yaml.dump(data, Dumper=dumper, allow_unicode=True, width=120))


def _compressed(kind: str) -> Any:
    def edit(request: dict[str, Any], response: dict[str, Any]) -> None:
        body = response["body"]["string"].encode("utf-8")
        if kind == "br":
            import brotli

            response["body"]["string"] = brotli.compress(body)
        else:
            import zstandard

            response["body"]["string"] = zstandard.ZstdCompressor().compress(body)
        response["headers"]["Content-Encoding"] = [kind]

    return edit


def _legacy_httpx(request: dict[str, Any], response: dict[str, Any]) -> None:
    """vcrpy 4's httpx stub: status_code / http_version / headers / content (decoded text), the
    content-encoding header of the wire kept."""
    headers = dict(response["headers"], **{"content-encoding": ["gzip"]})
    content, code = response["body"]["string"], response["status"]["code"]
    response.clear()
    response.update({"status_code": code, "http_version": "HTTP/1.1", "headers": headers, "content": content})


def _no_headers(request: dict[str, Any], response: dict[str, Any]) -> None:
    request["headers"] = {}
    response["headers"] = {k: v for k, v in response["headers"].items() if k.lower() != "content-type"}


def _stale_encoding(request: dict[str, Any], response: dict[str, Any]) -> None:
    response["headers"]["Content-Encoding"] = ["gzip"]


def _older_sdks(request: dict[str, Any], response: dict[str, Any]) -> None:
    """What anthropic 0.x / openai 1.26 sent for the same calls: ?beta=true, no encoding_format."""
    if request["uri"].endswith("/v1/messages") and "anthropic-beta" in {k.lower() for k in request["headers"]}:
        request["uri"] += "?beta=true"
    if request["uri"].endswith("/v1/embeddings"):
        body = json.loads(request["body"])
        del body["encoding_format"]
        request["body"] = json.dumps(body)
        answer = json.loads(response["body"]["string"])
        for item in answer["data"]:  # the API answered floats to a request without encoding_format
            item["embedding"] = array.array("f", base64.b64decode(item["embedding"])).tolist()
        response["body"]["string"] = json.dumps(answer)


def _reordered(request: dict[str, Any], response: dict[str, Any]) -> None:
    """Another SDK version's JSON: keys in another order, other whitespace."""

    def reverse(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    request["body"] = json.dumps(reverse(json.loads(request["body"])), indent=4)


def _istr_headers(request: dict[str, Any], response: dict[str, Any]) -> None:
    for part in (request, response):
        part["headers"] = {IStr(k) if k.lower().startswith(("content", "accept")) else k: v
                           for k, v in part["headers"].items()}


FORMATS = ["canonical", "binary-gzip", "binary-br", "binary-zstd", "vcrpy-json", "httpx-legacy", "pydantic-ai",
           "istr", "no-headers", "stale-encoding", "gzip-file", "older-sdks", "reordered"]
FILES = {"vcrpy-json": "vcrpy-json.json", "gzip-file": "gzip-file.yaml.gz"}


def file_of(name: str) -> str:
    return FILES.get(name, f"{name}.yaml")


@pytest.fixture(scope="module")
def formats_dir(provider: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every format, made from the same calls; ``expected.json`` is what the live calls returned."""
    folder = tmp_path_factory.mktemp("formats")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OPENAI_BASE_URL", provider.openai_base_url)
        env.setenv("ANTHROPIC_BASE_URL", provider.anthropic_base_url)
        env.setenv("OPENAI_API_KEY", "sk-test-openai-key-0001")
        env.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-0001")
        expected = _record_with_vcrpy(folder / "canonical.yaml", decode_compressed_response=True)
        _record_with_vcrpy(folder / "binary-gzip.yaml")  # vcrpy's default: the wire bytes, as !!binary
        _record_with_vcrpy(folder / "vcrpy-json.json", serializer="json", decode_compressed_response=True)
        _record_with_vcrpy(folder / "pydantic-ai.yaml", serializer="pydantic-ai", decode_compressed_response=True)
    (folder / "expected.json").write_text(json.dumps(expected, sort_keys=True))
    canonical = yaml.safe_load((folder / "canonical.yaml").read_text())
    binary_text = (folder / "canonical.yaml").read_bytes()
    assert b"!!binary" in (folder / "binary-gzip.yaml").read_bytes()

    _dump(folder / "binary-br.yaml", _transform(canonical, _compressed("br")))
    _dump(folder / "binary-zstd.yaml", _transform(canonical, _compressed("zstd")))
    _dump(folder / "httpx-legacy.yaml", _transform(canonical, _legacy_httpx))
    _dump(folder / "istr.yaml", _transform(canonical, _istr_headers), _istr_dumper())
    _dump(folder / "no-headers.yaml", _transform(canonical, _no_headers))
    _dump(folder / "stale-encoding.yaml", _transform(canonical, _stale_encoding))
    (folder / "gzip-file.yaml.gz").write_bytes(gzip.compress(binary_text))
    _dump(folder / "older-sdks.yaml", _transform(canonical, _older_sdks))
    _dump(folder / "reordered.yaml", _transform(canonical, _reordered))
    return folder


# -- replay through the plugin ---------------------------------------------------------------------
REPLAY_TEST = '''
import json, pathlib, pytest, format_calls

FORMATS = pathlib.Path({folder!r})
EXPECTED = json.loads((FORMATS / "expected.json").read_text())
{tests}
'''
ONE_TEST = '''
@pytest.mark.llm(cassette=str(FORMATS / {file!r}))
def test_{name}(llm_cassette):
    assert json.loads(json.dumps(format_calls.run_all(), sort_keys=True)) == EXPECTED
    assert llm_cassette.play_count == 6
'''


def test_every_format_replays_through_both_sdks(project, formats_dir):
    tests = "".join(ONE_TEST.format(file=file_of(n), name=n.replace("-", "_")) for n in FORMATS)
    project.pytester.makepyfile(format_calls=(TESTS / "format_calls.py").read_text())
    project.pytester.makepyfile(test_replay_formats=REPLAY_TEST.format(folder=str(formats_dir), tests=tests))
    before = {p.name: p.read_bytes() for p in formats_dir.iterdir()}
    result = project.run("-v")  # no keys, base URLs pointing at a closed port
    result.assert_outcomes(passed=len(FORMATS))
    out = result.stdout.str()
    older = f"{formats_dir}/older-sdks.yaml"
    result.stdout.fnmatch_lines([
        "*- llmops: requests matched through SDK drift rules -*",
        (f"test_replay_formats.py::test_older_sdks: POST /v1/embeddings matched {older} interaction #3 "
        f"despite SDK drift:"),
        ('    openai-embeddings-encoding-format: openai 3.x adds "encoding_format": "base64" to embeddings '
        "requests; the recording has none"),
        (f"test_replay_formats.py::test_older_sdks: POST /v1/messages matched {older} interaction #6 "
        f"despite SDK drift:"),
        "    anthropic-beta-query: anthropic 2.x no longer adds ?beta=true to beta calls; the recording has it",
    ])
    assert out.count("despite SDK drift") == 2, "only the older SDKs' cassette needs the drift rules"
    assert {p.name: p.read_bytes() for p in formats_dir.iterdir()} == before, "replay never writes"

    quiet = project.run("-k", "older_sdks")
    quiet.assert_outcomes(passed=1)
    quiet.stdout.fnmatch_lines([("llmops: 2 request(s) matched a recording only through SDK drift rules "
                                "(differences today's SDKs introduce by themselves); pytest -v lists them")])


@pytest.mark.parametrize("name,expected", [
    ("canonical", "vcrpy YAML"),
    ("binary-gzip", "vcrpy YAML (!!binary bodies, gzip bodies)"),
    ("binary-br", "vcrpy YAML (!!binary bodies, brotli bodies)"),
    ("binary-zstd", "vcrpy YAML (!!binary bodies, zstd bodies)"),
    ("vcrpy-json", "vcrpy JSON"),
    ("httpx-legacy", "vcrpy YAML (legacy httpx layout, content-encoding on decoded bodies)"),
    ("pydantic-ai", "pydantic-ai YAML (parsed_body mappings)"),
    ("istr", "vcrpy YAML (multidict istr header tags)"),
    ("no-headers", "vcrpy YAML (requests without headers)"),
    ("stale-encoding", "vcrpy YAML (content-encoding on decoded bodies)"),
    ("gzip-file", "vcrpy YAML (gzip-compressed file)"),
])
def test_the_format_is_recognised(formats_dir, name, expected):
    loaded = load(formats_dir / file_of(name))
    assert str(loaded.format) == expected
    assert len(loaded.interactions) == 6
    for interaction in loaded.interactions:  # bodies decoded to text, the stale header gone
        assert isinstance(interaction["response"]["body"]["string"], str)
        assert "content-encoding" not in interaction["response"]["headers"]
        assert interaction["response"]["headers"]["content-type"]


@pytest.mark.parametrize("name", ["pydantic-ai", "istr"])
def test_plain_vcrpy_cannot_even_load_these(formats_dir, name):
    """Why a loader of our own: vcrpy refuses pydantic-ai's and aiohttp-era files."""
    import vcr
    from vcr.cassette import Cassette as VcrCassette

    with pytest.raises((KeyError, TypeError, ValueError)):
        VcrCassette.load(path=str(formats_dir / file_of(name)), record_mode="none",
                         serializer=vcr.VCR().serializers["yaml"])


# -- what is tolerated, and what is not ------------------------------------------------------------
def _cassette(interactions: list[Interaction]) -> Cassette:
    return Cassette(Path("c.yaml"), recording=False, data=CassetteData(Path("c.yaml"), interactions),
                    record_command="pytest --llm-live 'test_x.py::test_x'")


def _recorded(uri: str, body: str) -> Interaction:
    return Interaction(method="POST", uri=uri, request_body=body, status=200, response_body="{}")


EMBEDDINGS = "https://api.openai.com/v1/embeddings"


def test_a_difference_that_is_not_sdk_drift_is_a_miss_with_the_nearest_diff():
    cassette = _cassette([_recorded(EMBEDDINGS, '{"model": "m", "input": "hello", "encoding_format": "float"}')])
    with pytest.raises(CassetteMiss) as info:
        cassette.play("POST", "http://127.0.0.1:9/v1/embeddings",
                      b'{"model":"m","input":"hello","encoding_format":"base64"}')
    assert info.value.args[0].splitlines()[2:6] == [
        "request sent:      POST /v1/embeddings",
        "closest recorded:  POST /v1/embeddings  (interaction #1 of 1)",
        "how they differ (recorded -> sent):",
        "  body['encoding_format']: recorded 'float', sent 'base64'",
    ]
    assert cassette.drift == []


def test_drift_rules_combine_with_nothing_else():
    """A dropped ?beta=true is tolerated; a changed prompt on the same call is not."""
    recorded = _recorded("https://api.anthropic.com/v1/messages?beta=true", '{"model": "c", "messages": ["a"]}')
    cassette = _cassette([recorded, recorded])
    assert cassette.play("POST", "http://x/v1/messages", b'{"messages":["a"],"model":"c"}') is recorded
    assert [(d.interaction, d.rules) for d in cassette.drift] == [(0, ("anthropic-beta-query",))]
    with pytest.raises(CassetteMiss, match=r"body\['messages'\]\[0\]: recorded 'a', sent 'b'"):
        cassette.play("POST", "http://x/v1/messages", b'{"messages":["b"],"model":"c"}')


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.dictionaries(st.text(min_size=1, max_size=8),
                         st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                      lambda children: st.lists(children, max_size=3)
                                      | st.dictionaries(st.text(max_size=5), children, max_size=3),
                                      max_leaves=10), max_size=6),
    indent=st.sampled_from([None, 1, 2, 4, "\t"]),
    sort=st.booleans(),
    encoding_format=st.sampled_from([None, "float", "base64"]),
)
def test_json_key_order_and_whitespace_never_matter_and_drift_is_exact(body, indent, sort, encoding_format):
    """Recorded JSON in any key order and layout matches; ``encoding_format`` is tolerated only when
    the recording has none and today's SDK sent its default."""
    body = {k: v for k, v in body.items() if k != "encoding_format"}
    recorded_body = dict(body, **({"encoding_format": encoding_format} if encoding_format else {}))
    recorded = _recorded(EMBEDDINGS, json.dumps(recorded_body, indent=indent, sort_keys=sort))
    sent = dict(reversed(list(body.items())), encoding_format="base64")
    cassette = _cassette([recorded])
    compact = json.dumps(sent, separators=(",", ":")).encode()
    if encoding_format in (None, "base64"):
        assert cassette.play("POST", EMBEDDINGS, compact) is recorded
        assert [d.rules for d in cassette.drift] == ([("openai-embeddings-encoding-format",)]
                                                     if encoding_format is None else [])
    else:
        with pytest.raises(CassetteMiss):
            cassette.play("POST", EMBEDDINGS, compact)


# -- bad input: a clear error naming the file, nothing changed on disk -----------------------------
BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
interactions: [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def _gzip_truncated() -> bytes:
    return gzip.compress(b"interactions: []\nversion: 1\n" * 50)[:-12]


BAD = {
    "not-a-cassette.yaml": ("just: some\nother: yaml\n",
                            ("is not a cassette: expected a mapping with an 'interactions' list (vcrpy format) "
                            "(found dict with keys just, other).")),
    "bomb.yaml": (BOMB, "was refused: its YAML aliases expand it"),
    "ruby-vcr.yml": ("http_interactions:\n- request: {method: get}\nrecorded_with: VCR 6.1.0\n",
                     "was written by an unknown serializer (VCR 6.1.0: 'http_interactions' layout), not vcrpy."),
    "pre-1.0.yaml": ("- request: {method: GET, uri: 'http://x'}\n  response: {}\n",
                     "is a cassette of vcrpy before 1.0 (a bare list of interactions), an unknown serializer now."),
    "truncated.yaml.gz": (_gzip_truncated(), "is a truncated gzip file (it ends before the compressed data does)."),
    "not-gzip.yaml.gz": ("interactions: []\n", "is not a valid gzip file"),
    "code.yaml": ("interactions:\n- !!python/object/apply:os.system ['echo pwned']\n",
                  "uses a YAML tag that is refused for safety"),
    "self.yaml": ("interactions: &x [*x]\n", "holds a YAML alias that refers to itself"),
    "binary.yaml": (b"\x00\x01\x02interactions\xff" * 10, "holds binary data, not YAML or JSON text."),
    "malformed.yaml": ("interactions:\n- request: {method: GET}\n  response: {}\n",
                       "interaction #1 is malformed (missing 'uri')."),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_a_clear_error_naming_the_file_and_nothing_changes(tmp_path, name):
    content, message = BAD[name]
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(CassetteError) as info:
        load_cassette(path)
    text = str(info.value)
    assert str(path) in text.splitlines()[0]
    assert message in text
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert path.read_bytes() == (content.encode() if isinstance(content, str) else content)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as handle:  # sparse: 3 GiB on paper, nothing on disk
        handle.truncate(3 * 1024**3)

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened")

    import pytest_llmops.formats as formats_module

    monkeypatch.setattr(formats_module, "open", no_reading, raising=False)
    with pytest.raises(CassetteError) as info:
        load_cassette(path)
    assert str(info.value).splitlines()[0] == (
        f"cassette {path} is 3.0 GiB, over the {MAX_CASSETTE_BYTES // 1024**2}.0 MiB limit for a cassette; "
        f"it was not read.")
    assert path.stat().st_size == 3 * 1024**3


def test_a_gzip_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_LLMOPS_MAX_CASSETTE_MB", "1")
    path = tmp_path / "bomb.yaml.gz"
    path.write_bytes(gzip.compress(b"interactions: []\n" + b"#" * (3 * 1024**2)))
    with pytest.raises(CassetteError, match="inflates to over the 1.0 MiB limit"):
        load_cassette(path)


def test_a_broken_adopted_cassette_errors_the_test_not_the_run(project, tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    project.pytester.makepyfile(test_app=f"""
        import openai, pytest

        @pytest.mark.llm(cassette={str(path)!r})
        def test_ask():
            openai.OpenAI().models.list()

        def test_other():
            pass
    """)
    result = project.run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*cassette {path} was refused: its YAML aliases expand it *-fold*"])
    assert path.read_text() == BOMB


# -- the real corpus -------------------------------------------------------------------------------
@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus of real cassettes is not here")
def test_the_real_corpus_loads_and_replays_through_todays_sdks():
    """256 cassettes five projects recorded against the real APIs, read where they are (never copied)."""
    import sdk_replay

    files = sorted(CORPUS.rglob("*.yaml"))
    assert len(files) == 256
    results = [sdk_replay.replay_with_plugin(path) for path in files]
    assert [r.load_error for r in results if r.load_error] == []
    failures = [(r.path.name, o.why) for r in results for o in r.outcomes if not o.replayed]
    assert failures == []
    assert sum(r.targets for r in results) == 467
    rules = sorted({rule for r in results for d in r.drift for rule in d.rules})
    assert rules == ["anthropic-beta-query", "openai-embeddings-encoding-format"]


def test_loading_never_writes(formats_dir):
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in formats_dir.iterdir()}
    for name in FORMATS:
        load_cassette(formats_dir / file_of(name))
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in formats_dir.iterdir()} == before
    assert not [p for p in formats_dir.iterdir() if p.name.startswith(".")]


def test_a_multipart_upload_matches_whatever_boundary_the_sdk_draws():
    """Each upload draws a random boundary; the corpus's file uploads replay only because it is ignored."""
    from pytest_llmops.matching import request_key

    def body(boundary: str, content: str = "hello") -> bytes:
        return (f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--{boundary}\r\n'
                f'Content-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{content}\r\n'
                f"--{boundary}--\r\n").encode()

    url = "https://api.openai.com/v1/files"
    assert request_key("POST", url, body("3e64028332d7")) == request_key("POST", url, body("ffd6e08da8ce"))
    assert request_key("POST", url, body("3e64028332d7")) != request_key("POST", url, body("ffd6e08da8ce", "bye"))
