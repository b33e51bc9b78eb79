#!/usr/bin/env python3
"""Scale the example snapshot to N mapped entities, for the whole-process benchmarks.

Usage: python3 benches/scale_snapshot.py N OUT_DIR

Writes a snapshot folder whose work items, pull requests and builds are copies of the
example snapshot's (examples/ado-snapshot), renumbered so every copy maps to its own entity,
in the proportions of a real organization: 70 % work items, 15 % pull requests, 15 % builds.
The other kinds are copied as they are. With the example config repo
(examples/config-repo), `adoport apply` then writes about N entities.
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "examples" / "ado-snapshot"


def lines(kind):
    return [json.loads(l) for l in (SOURCE / f"{kind}.jsonl").read_text().splitlines() if l.strip()]


def main():
    n, out = int(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((SOURCE / "manifest.json").read_text())
    wanted = {"work-item": n * 70 // 100, "pull-request": n * 15 // 100, "build": n * 15 // 100}
    for kind, entry in manifest["kinds"].items():
        items = lines(kind)
        target = out / f"{kind}.jsonl"
        if kind not in wanted:
            target.write_text((SOURCE / f"{kind}.jsonl").read_text())
            continue
        count = wanted[kind]
        with target.open("w") as f:
            for i in range(count):
                item = dict(items[i % len(items)])
                if kind == "work-item":
                    item["id"] = i + 1
                elif kind == "pull-request":
                    item["pullRequestId"] = i + 1
                else:
                    item["id"] = i + 1
                    item["buildNumber"] = f"{i + 1}"
                f.write(json.dumps(item, separators=(",", ":")))
                f.write("\n")
        entry["count"] = count
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
