#!/usr/bin/env bash
# Maps the same work items through adoport and through Port's own entity processor, each
# as a whole process under /usr/bin/time, and prints both figures and the ratio.
#
# Usage: benches/side_by_side.sh [--with-port] [--items N] [--bin PATH]
#
#   --items N     work items to map (default 100000): copies of
#                 tests/fixtures/mapping/work-item.json (2.6 KB compact) with ids, titles
#                 and urls varied, as one JSON array
#   --with-port   also install port-ocean (PyPI) in a throw-away virtual environment
#                 (Python 3.12) and map the items through Port's JQEntityProcessor
#                 (benches/side_by_side/port_map.py); without it only adoport runs
#   --bin PATH    the adoport binary (default: target/dist/adoport, the shipped profile,
#                 built if missing)
#
# The mapping is Port's default Azure DevOps mapping
# (tests/fixtures/upstream/ocean-ado-defaults/port-app-config.yaml), its work-item
# resource. adoport writes JSON to /dev/null (`adoport map --format json`); Port's
# processor keeps its entities in memory, as its integration does before sending them.
set -euo pipefail
cd "$(dirname "$0")/.."

items=100000
with_port=false
bin=target/dist/adoport
while [ $# -gt 0 ]; do
  case "$1" in
    --items) items=$2; shift 2 ;;
    --with-port) with_port=true; shift ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "usage: $0 [--with-port] [--items N] [--bin PATH]" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapping=tests/fixtures/upstream/ocean-ado-defaults/port-app-config.yaml
mkdir -p "$work/config/mappings"
cp "$mapping" "$work/config/mappings/port-app-config.yaml"

if [ ! -x "$bin" ]; then
  echo "side_by_side: building $bin" >&2
  cargo build --profile dist --locked --bin adoport >&2
fi

python3 - "$items" "$work/items.json" <<'PY'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
item = json.load(open("tests/fixtures/mapping/work-item.json"))
with open(out, "w") as f:
    f.write("[")
    for i in range(n):
        item["id"] = 100000 + i
        item["fields"]["System.Title"] = f"Work item {i}: make the exporter faster"
        item["url"] = f"https://dev.azure.com/acme/_apis/wit/workItems/{100000 + i}"
        f.write(("," if i else "") + json.dumps(item, separators=(",", ":")))
    f.write("]")
PY
echo "items: $items work items, $(du -h "$work/items.json" | cut -f1) of JSON"
echo "load: $(uptime | sed 's/.*load average: //') (1, 5, 15 min), $(nproc) cores"

# Runs "$@" under /usr/bin/time; sets wall (s) and rss (MB).
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@"
  read -r wall kb < "$work/time"
  rss=$((kb / 1024))
}

measure "$bin" map --config "$work/config" --kind work-item --input "$work/items.json" \
  --format json > /dev/null
ours_wall=$wall
ours_rss=$rss
ours_rate=$(python3 -c "print(round($items / max($wall, 0.001)))")
printf '%-28s %10s s %12s entities/s %8s MB peak\n' "adoport map" "$ours_wall" "$ours_rate" "$ours_rss"

if $with_port; then
  # The first Python 3.12 that runs (a pyenv shim may exist and refuse to).
  python=
  for candidate in python3.12 ~/.pyenv/versions/3.12*/bin/python3.12; do
    if "$candidate" --version >/dev/null 2>&1; then
      python=$candidate
      break
    fi
  done
  if [ -z "$python" ]; then
    echo "side_by_side: port-ocean needs Python 3.12, which is not installed" >&2
    exit 1
  fi
  echo "side_by_side: installing port-ocean in a throw-away virtual environment" >&2
  "$python" -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet port-ocean pyyaml >&2
  version=$("$work/venv/bin/python" -c "import importlib.metadata as m; print(m.version('port-ocean'))")
  if ! measure "$work/venv/bin/python" benches/side_by_side/port_map.py "$mapping" work-item \
    "$work/items.json" > "$work/port.json" 2> "$work/port.log"; then
    echo "side_by_side: Port's processor failed; the end of its log:" >&2
    tail -n 20 "$work/port.log" >&2
    exit 1
  fi
  port_wall=$wall
  port_rss=$rss
  port_rate=$(python3 -c "print(round($items / max($wall, 0.001)))")
  printf '%-28s %10s s %12s entities/s %8s MB peak\n' "port-ocean $version" "$port_wall" "$port_rate" "$port_rss"
  echo "Port's processor: $(cat "$work/port.json")"
  python3 -c "print(f'ratio: adoport is {$port_wall / max($ours_wall, 0.001):.0f}x faster (wall) and uses {$port_rss / max($ours_rss, 1):.1f}x less memory at peak')"
fi
echo "load after: $(uptime | sed 's/.*load average: //')"
