#!/usr/bin/env bash
# Runs the peers benchmark suite and reports it as markdown tables.
#
#   peers/run.sh [--quick] [--write] [--report-only] [--reference NAME] [--features LIST]
#
#   --quick         reduced mode: ZEROTABLE_BENCH_ROWS=100000 (unless set), criterion's
#                   --quick sampling and no plots
#   --write         also writes the report to BENCHMARKS.md at the repository root, and the
#                   chart of the per-engine ratios beside it (BENCHMARKS-engines.svg)
#   --report-only   runs nothing: reports the results already under target/
#   --reference N   the contender ratios are taken against (default "raw redb")
#   --features L    cargo features of the peers crate, e.g. `rocksdb` for the RocksDB
#                   contenders (a release build of RocksDB's C++: 30+ minutes on two cores)
#
# Full mode: every size at its default (1,000,000 rows, 1,000 commits), criterion's own sampling
# (kept small by the benches) and its HTML report under target/criterion.
# ZEROTABLE_BENCH_CONTENDERS=slug,slug,... runs only those contenders (slugs as
# `cargo run --release --bin instructions` lists them, e.g. raw-fjall,zerotable-fjall).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

quick=0
write=0
report_only=0
reference="raw redb"
features=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --write) write=1 ;;
    --report-only) report_only=1 ;;
    --reference) reference="$2"; shift ;;
    --features) features=(--features "$2"); shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

benches=(point_get scan write size)
criterion_args=()
command="peers/run.sh"
[[ ${#features[@]} -gt 0 ]] && command+=" ${features[*]}"
if [[ $quick == 1 ]]; then
  export ZEROTABLE_BENCH_ROWS="${ZEROTABLE_BENCH_ROWS:-100000}"
  criterion_args=(--quick --noplot)
  command+=" --quick"
fi
target="${CARGO_TARGET_DIR:-$here/target}"
timings="$target/peers-timings.tsv"

if [[ $report_only == 0 ]]; then
  echo "== building the benches" >&2
  build_start=$(date +%s)
  cargo bench "${features[@]}" --no-run
  echo "build: $(( $(date +%s) - build_start )) s" >&2
  # Results of an earlier run must not stand in for a benchmark that failed this time.
  rm -rf "$target/criterion" "$target/peers-size.json"
  mkdir -p "$target"
  : > "$timings"
  run_start=$(date +%s)
  for bench in "${benches[@]}"; do
    echo "== cargo bench --bench $bench -- ${criterion_args[*]}" >&2
    start=$(date +%s)
    cargo bench "${features[@]}" --bench "$bench" -- "${criterion_args[@]}"
    printf '%s\t%s\n' "$bench" "$(( $(date +%s) - start ))" >> "$timings"
  done
  printf 'total\t%s\n' "$(( $(date +%s) - run_start ))" >> "$timings"
  echo "run: $(( $(date +%s) - run_start )) s" >&2
fi

report_args=(--target "$target" --reference "$reference" --command "$command"
  --rows "${ZEROTABLE_BENCH_ROWS:-1000000}" --commits "${ZEROTABLE_BENCH_COMMITS:-1000}")
[[ $quick == 1 ]] && report_args+=(--quick)
[[ $write == 1 ]] && report_args+=(--write "$(dirname "$here")/BENCHMARKS.md")
python3 "$here/report.py" "${report_args[@]}"
