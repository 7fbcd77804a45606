#!/bin/sh
# pmmsim.sh - `make bench PART=pmmsim` (and part of the full `make bench`): pmmsim replaying a
# 16-socket 12 TiB server's map (tools/servermap.py: 16 nodes of 768 GiB, about 3.2 G usable
# pages, a few hundred descriptors), timed with `/usr/bin/time -f "%e s %M KB"`: wall seconds and
# peak resident set. One line:
#   bench pmmsim_16node_12t descriptors=N usable_pages=N meta_pages=N seconds=S max_rss_kb=K
#         selftest=pass check=ok
# The replay is the whole of pmmsim: build with the simulated firmware, the loader's
# allocations, reconcile, adopt through a second mapping, the kernel's self-test, pmm_check.
# Needs build/pmmsim (make build/pmmsim).
set -eu
cd "$(dirname "$0")/.."
[ -x build/pmmsim ] || { echo "pmmsim.sh: build/pmmsim missing (make build/pmmsim)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 tools/servermap.py --nodes 16 --node-gib 768 >"$tmp/map.txt"
rc=0
/usr/bin/time -f "%e s %M KB" -o "$tmp/time" build/pmmsim --json "$tmp/map.txt" >"$tmp/out.json" ||
    rc=$?
python3 - "$tmp/out.json" "$tmp/time" "$rc" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
secs, _, kb, _ = open(sys.argv[2]).read().split()[-4:]
print(f"bench pmmsim_16node_12t descriptors={j['descriptors']} usable_pages={j['total']} "
      f"meta_pages={j['meta']} seconds={secs} max_rss_kb={kb} selftest={j['selftest']} "
      f"check={j['check']}")
sys.exit(int(sys.argv[3]))
PY
