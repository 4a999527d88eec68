"""Figures on a corpus of real cassettes: how many recorded calls replay through today's SDKs, and how
many files hold secrets.

    python bench/corpus.py [FOLDER]        (default: ../shared/data/cassettes from the project's root)

For every recorded request to api.openai.com / api.anthropic.com, the SDK call that sends it is made
again with today's ``openai`` / ``anthropic`` (see ``tests/sdk_replay.py``), and answered by:

* pytest-llmops (any host; body matched as normalised JSON; SDK drift rules on a miss);
* pytest-llmops with the drift rules switched off;
* plain vcrpy, ``record_mode="none"``, matching on method, scheme, host, port, path, query and body.

Then ``audit`` runs over the folder (read-only). The files are read where they are, never copied.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import sdk_replay

from pytest_llmops.audit import audit_paths


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else ROOT.parent / "shared" / "data" / "cassettes"
    if not folder.is_dir():
        print(f"no corpus at {folder}")
        return 2
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".gz", ".json")
                   and p.name != "manifest.jsonl")
    print(f"corpus: {folder} ({len(files)} files)")
    for name, replay in (("pytest-llmops", sdk_replay.replay_with_plugin),
                         ("pytest-llmops, no drift rules", lambda p: sdk_replay.replay_with_plugin(p, use_drift=False)),
                         ("plain vcrpy, body matched", sdk_replay.replay_with_vcrpy)):
        started = time.perf_counter()
        results = [replay(path) for path in files]
        targets = sum(r.targets for r in results)
        replayed = sum(r.replayed for r in results)
        unloadable = sum(1 for r in results if r.load_error)
        print(f"\n{name}: {replayed} of {targets} recorded OpenAI/Anthropic calls replayed "
              f"({100 * replayed / max(targets, 1):.1f}%), {unloadable} file(s) not loadable, "
              f"{time.perf_counter() - started:.1f} s")
        why = Counter(o.why.split(":")[0] for r in results for o in r.outcomes if not o.replayed)
        for reason, count in why.most_common(5):
            print(f"    {count:4d} x {reason}")
        rules = Counter(rule for r in results for d in r.drift for rule in d.rules)
        for rule, count in rules.most_common():
            print(f"    matched through drift rule {rule}: {count}")

    run = audit_paths([folder], cache_dir=folder / ".no-cache")
    summary = run.summary()
    print(f"\naudit: {summary['cassettes']} cassettes, {summary['interactions']} interactions, "
          f"{summary['unreadable']} unreadable")
    print(f"    formats: {summary['formats']}")
    print(f"    {summary['files_with_secrets']} files hold {summary['secrets']} secrets; files by kind: "
          f"{summary['files_by_kind']}")
    org_or_cookie = sum(1 for r in run.reports if {f.kind for f in r.secrets} & {"organization", "project", "cookie"})
    print(f"    {org_or_cookie} files hold organisation/project ids or cookies; "
          f"{summary['files_with_placeholders_only']} more hold only placeholder credentials")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
