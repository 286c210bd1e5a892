#!/usr/bin/env bash
# Counts instructions per operation under callgrind: the figures the performance targets are
# checked with, because they repeat exactly where wall time on a shared machine does not.
#
#   peers/callgrind.sh [--rows N] [--write] [CONTENDER ...]
#
#   --rows N    rows of the store (default 100000), loaded in random key order, no fsync
#   --write     also writes the table into BENCHMARKS.md (its "Instructions per operation" part)
#   CONTENDER   contenders by their `instructions` name (default: every redb-based one and the
#               memory engine; `cargo run --release --bin instructions` lists them all)
#
# For each contender and phase it runs `instructions <contender> <phase>` under
# `valgrind --tool=callgrind`, subtracts the same run's `setup` phase (load and key draw) and
# divides by the operations the phase did. Needs valgrind (the CI image does not run this).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
rows=100000
write=0
contenders=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rows) rows="$2"; shift ;;
    --write) write=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown argument: $1" >&2; exit 2 ;;
    *) contenders+=("$1") ;;
  esac
  shift
done
if [[ ${#contenders[@]} == 0 ]]; then
  contenders=(raw-redb zerotable-rkyv zerotable-rkyv-unchecked zerotable-flatbuffers
    zerotable-flatbuffers-unchecked zerotable-raw
    zerotable-memory)
fi
phases=(get get_txn fold seek seek_txn commit)
command -v valgrind > /dev/null || { echo "callgrind.sh needs valgrind" >&2; exit 1; }

cargo build --release --bin instructions >&2
bin="${CARGO_TARGET_DIR:-$here/target}/release/instructions"

# Instructions of one run (callgrind's total "refs").
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 >/dev/null |
    grep -o 'refs: *[0-9,]*' | tr -dc '0-9'
}

declare -A result
for contender in "${contenders[@]}"; do
  base=$(count "$contender" setup "$rows")
  for phase in "${phases[@]}"; do
    ops=$("$bin" "$contender" "$phase" "$rows")
    total=$(count "$contender" "$phase" "$rows")
    result[$contender,$phase]=$(( (total - base) / ops ))
    echo "$contender $phase: ${result[$contender,$phase]} instructions/op" >&2
  done
done

reference=${contenders[0]}
table="| operation |"
rule="|---|"
for contender in "${contenders[@]}"; do
  table+=" $contender |"
  rule+="---:|"
done
table+=$'\n'"$rule"
for phase in "${phases[@]}"; do
  table+=$'\n'"| $phase |"
  for contender in "${contenders[@]}"; do
    value=${result[$contender,$phase]}
    ratio=$(python3 -c "print(f'{$value / max(${result[$reference,$phase]}, 1):.2f}')")
    table+=" $(python3 -c "print(f'{$value:,}')") ($ratio×) |"
  done
done
echo "$table"

if [[ $write == 1 ]]; then
  python3 - "$here/../BENCHMARKS.md" "$rows" "$reference" "$table" <<'PY'
import datetime, pathlib, re, subprocess, sys
path, rows, reference, table = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
body = f"""Instructions per operation counted by callgrind ({valgrind}), {rows:,} rows loaded in random
key order without fsync; each figure is a phase's instructions minus those of the same store's
setup, divided by its operations; in brackets, the ratio to {reference}. Command:
`peers/callgrind.sh --write`, {date}. Phases: `get` a point read in its own transaction, `get_txn`
a point read among 20,000 in one read transaction, `fold` one row of a full scan, `seek` a seek
plus 10 rows in its own transaction, `seek_txn` the same among 5,000 in one transaction, `commit`
a one-row write committed on its own without fsync.

{table}
"""
text = path.read_text()
marked = f"<!-- instructions -->\n{body}<!-- /instructions -->"
if "<!-- instructions -->" in text:
    text = re.sub(r"<!-- instructions -->\n.*?<!-- /instructions -->", lambda _: marked, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n## Instructions per operation\n\n" + marked + "\n"
path.write_text(text)
PY
fi
