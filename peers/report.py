#!/usr/bin/env python3
"""Turns the results of the peers benchmark suite into markdown tables (used by run.sh).

Reads, under the target directory:
  criterion/**/new/benchmark.json + estimates.json   one per benchmark: criterion records the
      exact group and function names in benchmark.json, so no directory-name mapping is guessed
  peers-size.json                                    written by benches/size.rs
  peers-timings.tsv                                  seconds per bench, written by run.sh
Prints the report; with --write PATH, also writes it there with the machine, toolchain and crate
versions.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import tomllib

# (criterion group, title, what one element of the throughput is, notes). `{rows}` and
# `{commits}` are filled in.
WORKLOADS = [
    ("point_get_hot", "Point get, 10,000 rows (hot)", "gets",
     "One random key read per iteration, its `revenue` field."),
    ("point_get_large", "Point get, {rows} rows", "gets",
     "One random key read per iteration, its `revenue` field."),
    ("point_get_snapshot", "Point get in one snapshot, {rows} rows", "gets",
     "One iteration: 1,000 random key reads in one read transaction (one snapshot, the table "
     "opened once; SQLite: one transaction, one prepared statement)."),
    ("point_get_4threads", "Point get, 4 threads, {rows} rows", "gets",
     "One iteration: 4 scoped threads, each with its own `reader()`, each doing 10,000 random "
     "gets (40,000 in all). The machine has {cores} cores, so 4 threads oversubscribe it."),
    ("scan_full", "Full scan, {rows} rows", "rows",
     "One iteration: sum `revenue` over every row, in key order."),
    ("range_read", "Range read: seek + 10 rows, {rows} rows", "reads",
     "One iteration: seek to a random key, sum `revenue` over the next 10 rows."),
    ("range_read_snapshot", "Range reads in one snapshot: 100 × (seek + 10 rows), {rows} rows",
     "reads",
     "One iteration: 100 range reads as above, all in one read transaction."),
    ("bulk_load", "Bulk load, {rows} rows in key order in one transaction", "rows",
     "One iteration: load every row, in key order, into a fresh, empty store in one transaction "
     "(opening the store, closing and deleting it are not timed)."),
    ("bulk_load_random", "Bulk load, {rows} rows in random order in one transaction", "rows",
     "As above, the rows in a random key order (inserts at random places)."),
    ("batch_write", "Batch writes, 100 × 1,000 rows", "rows",
     "One iteration: 100 durable transactions of 1,000 new rows (random ids) each, into a store "
     "that starts with {base} rows."),
    ("write_one_durable", "Individual writes, {commits} commits, fsync each", "commits",
     "One iteration: {commits} new rows, each in its own transaction with `Durability::Immediate`."),
    ("write_one_nosync", "Individual writes, {commits} commits, no fsync", "commits",
     "One iteration: {commits} new rows, each in its own transaction with `Durability::None`."),
    ("remove_half", "Remove half of {base} rows", "rows",
     "One iteration: remove the even ids, in a random order, in one transaction, from a fresh "
     "store of {base} rows (loading it is not timed)."),
]

# Crates whose versions the report names, as Cargo.lock spells them.
CRATES = ["zerotable", "redb", "rkyv", "flatbuffers", "postcard", "native_db", "native_model",
          "heed", "lmdb-master-sys", "rusqlite", "libsqlite3-sys", "criterion"]


def count(n):
    return f"{n:,}"


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(per_second):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if per_second >= scale:
            return f"{per_second / scale:.3g} {unit}/s"
    return f"{per_second:.3g} /s"


def fmt_bytes(n):
    if n == 0:
        return "0 (memory)"
    return f"{n / 2**20:,.1f} MiB"


def read_results(target):
    """{group: {function: (median ns, elements per iteration or None)}}."""
    results = {}
    root = target / "criterion"
    for meta_path in sorted(root.glob("**/new/benchmark.json")):
        meta = json.loads(meta_path.read_text())
        estimates = json.loads((meta_path.parent / "estimates.json").read_text())
        throughput = meta.get("throughput") or {}
        elements = throughput.get("Elements")
        function = meta.get("function_id") or meta.get("value_str") or ""
        results.setdefault(meta["group_id"], {})[function] = (
            estimates["median"]["point_estimate"], elements)
    return results


def contender_order(results, sizes):
    """The size file's order (the benches' order of contenders), then any other name."""
    order = [c["name"] for c in sizes["contenders"]] if sizes else []
    for group in results.values():
        for name in sorted(group):
            if name in order:
                continue
            # A variant such as "native_db (always fsyncs)" goes right after "native_db".
            prefixes = [i for i, known in enumerate(order) if name.startswith(known)]
            if prefixes:
                order.insert(max(prefixes, key=lambda i: len(order[i])) + 1, name)
            else:
                order.append(name)
    return order


def workload_table(group, results, order, reference):
    lines = ["| contender | median | vs " + reference + " | throughput |",
             "|---|---:|---:|---:|"]
    ref = results.get(reference)
    for name in order:
        if name not in results:
            continue
        median, elements = results[name]
        ratio = f"{median / ref[0]:.2f}×" if ref else "n/a"
        rate = fmt_rate(elements / (median / 1e9)) if elements else ""
        label = f"**{name}**" if name == reference else name
        lines.append(f"| {label} | {fmt_time(median)} | {ratio} | {rate} |")
    return lines


def size_table(sizes, reference):
    lines = ["| contender | after load | after compact | vs " + reference + " (after compact) |",
             "|---|---:|---:|---:|"]
    ref = next((c for c in sizes["contenders"] if c["name"] == reference), None)
    for c in sizes["contenders"]:
        ratio = ""
        if ref and ref["compacted_bytes"] and c["compacted_bytes"]:
            ratio = f"{c['compacted_bytes'] / ref['compacted_bytes']:.2f}×"
        label = f"**{c['name']}**" if c["name"] == reference else c["name"]
        lines.append(f"| {label} | {fmt_bytes(c['loaded_bytes'])} | "
                     f"{fmt_bytes(c['compacted_bytes'])} | {ratio} |")
    return lines


def run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine():
    model = "unknown"
    memory = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 2**20:.0f} GiB memory"
                break
    except OSError:
        pass
    return f"{run(['nproc'])} cores ({model}){memory}, {platform.system()} {platform.release()}"


def load_average(timings_path):
    """The load average now, if the run just ended (the suite itself keeps about 1 busy)."""
    try:
        if datetime.datetime.now().timestamp() - timings_path.stat().st_mtime > 120:
            return "not recorded (report made later)"
        averages = " / ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "not recorded"
    return (f"{averages} (1, 5, 15 min; the suite keeps about 1 busy, more means other work "
            "shared the machine)")


def crate_versions(lock_path):
    try:
        packages = tomllib.loads(lock_path.read_text()).get("package", [])
    except OSError:
        return "unknown (no Cargo.lock)"
    found = {}
    for package in packages:
        if package["name"] in CRATES:
            found.setdefault(package["name"], []).append(package["version"])
    parts = []
    for name in CRATES:
        if name in found:
            parts.append(f"{name} {' / '.join(sorted(set(found[name])))}")
    sqlite = sqlite_version(found.get("libsqlite3-sys", []))
    if sqlite:
        parts.append(f"SQLite {sqlite} (bundled)")
    return ", ".join(parts)


def sqlite_version(sys_versions):
    """The SQLite version bundled by libsqlite3-sys, from its sqlite3.h in the cargo registry."""
    cargo_home = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo"))
    for version in sys_versions:
        for header in cargo_home.glob(f"registry/src/*/libsqlite3-sys-{version}/sqlite3/sqlite3.h"):
            match = re.search(r'#define SQLITE_VERSION\s+"([^"]+)"', header.read_text(errors="replace"))
            if match:
                return match.group(1)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=pathlib.Path, required=True)
    parser.add_argument("--reference", default="raw redb")
    parser.add_argument("--command", default="peers/run.sh")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--commits", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", type=pathlib.Path)
    args = parser.parse_args()

    results = read_results(args.target)
    size_path = args.target / "peers-size.json"
    sizes = json.loads(size_path.read_text()) if size_path.exists() else None
    if not results and not sizes:
        sys.exit(f"no results under {args.target}: run the benches first")
    order = contender_order(results, sizes)
    cores = run(["nproc"])
    fill = {"rows": count(args.rows), "commits": count(args.commits),
            "base": count(min(args.rows, 100_000)), "cores": cores}

    body = []
    for group, title, _unit, notes in WORKLOADS:
        if group not in results:
            continue
        body += [f"#### {title.format(**fill)}", "", notes.format(**fill), ""]
        body += workload_table(group, results[group], order, args.reference)
        body.append("")
    if sizes:
        body += [f"#### Size on disk, {count(sizes['rows'])} rows", "",
                 "Not a timing: `size_on_disk` after loading every row in one transaction, then "
                 "after `compact` (redb compaction, SQLite `VACUUM`; a no-op where the engine "
                 "has none).", ""]
        body += size_table(sizes, args.reference)
        body.append("")
    report = "\n".join(body)
    print(report)

    if args.write:
        args.write.write_text(document(args, report, fill))
        print(f"wrote {args.write}", file=sys.stderr)


def document(args, report, fill):
    """BENCHMARKS.md with this run's section, keeping the other mode's section of `args.write`."""
    mode = "reduced" if args.quick else "full"
    sections = {"full": "_Not run yet: `peers/run.sh --write`._\n",
                "reduced": "_Not run yet: `peers/run.sh --quick --write`._\n"}
    if args.write.exists():
        old = args.write.read_text()
        for name in sections:
            match = re.search(f"<!-- {name} -->\n(.*?)<!-- /{name} -->", old, re.S)
            if match:
                sections[name] = match.group(1)
    sections[mode] = section(args, report, fill)
    instructions = "_Not run yet: `peers/callgrind.sh --write`._\n"
    if args.write.exists():
        match = re.search("<!-- instructions -->\n(.*?)<!-- /instructions -->", old, re.S)
        if match:
            instructions = match.group(1)
    return f"""# Benchmarks

zerotable against raw redb and the libraries a user would pick instead, every contender on the
same data in the same run. The suite is the separate cargo workspace `peers/`: the contenders are
in `peers/src/contenders/`, the benchmarks in `peers/benches/`, the runner that made this file is
`peers/run.sh` (each section names its command).

## How to read the tables

- **median**: criterion's median time of one iteration (what an iteration is, each table says).
- **vs {args.reference}**: that median divided by {args.reference}'s: below 1× is faster than
  {args.reference}, above is slower.
- **throughput**: elements (gets, rows, reads, commits) of one iteration divided by the median.
- Stores read by the read benchmarks are loaded in a random key order, as a history of inserts
  at random places leaves an engine's pages.
- Every store is built once per group, in a temporary directory, before the timing; workloads
  that need a fresh store per iteration build it outside the timing. Every contender is checked
  against the data set (a few reads, a range, the scan's sum) before it is timed.
- Durable (fsync per commit, each engine's safe default) unless the table says otherwise; the
  memory engine has nothing to sync. Timings of durable writes mostly measure this machine's
  disk flushes.
- Rows are `Person` records (~120 bytes archived) with u64 keys; see `peers/src/data.rs`.

## Full mode

<!-- full -->
{sections["full"]}<!-- /full -->

## Reduced mode

<!-- reduced -->
{sections["reduced"]}<!-- /reduced -->

## Instructions per operation

<!-- instructions -->
{instructions}<!-- /instructions -->
"""


def section(args, report, fill):
    """One run: how it was made, then its tables."""
    here = pathlib.Path(__file__).resolve().parent
    timings = {}
    timings_path = args.target / "peers-timings.tsv"
    if timings_path.exists():
        for line in timings_path.read_text().splitlines():
            name, seconds = line.split("\t")
            timings[name] = int(seconds)
    if timings:
        per_bench = ", ".join(f"{k} {v} s" for k, v in timings.items() if k != "total")
        runtime = f"{timings.get('total', 0) / 60:.1f} min ({per_bench}), build not included"
    else:
        runtime = "not recorded"
    if args.quick:
        mode = (f"{fill['rows']} rows for the large stores, {fill['commits']} commits per "
                "individual-write iteration, and criterion's `--quick` sampling (it stops once "
                "two measurements agree within 5%): quicker and noisier than the full mode.")
    else:
        mode = (f"{fill['rows']} rows for the large stores, {fill['commits']} commits per "
                "individual-write iteration, criterion's sampling (10 samples, 3 s).")
    # The run's end (when the runner wrote its timings), not the report's.
    when = (datetime.datetime.fromtimestamp(timings_path.stat().st_mtime, datetime.timezone.utc)
            if timings else datetime.datetime.now(datetime.timezone.utc))
    date = when.strftime("%Y-%m-%d %H:%M UTC")
    return f"""{mode}

| | |
|---|---|
| command | `{args.command} --write` (from the repository root) |
| date | {date} |
| runtime | {runtime} |
| machine | {machine()} |
| load average at the end | {load_average(timings_path)} |
| rustc | {run(['rustc', '--version'])} |
| crates | {crate_versions(here / 'Cargo.lock')} |

{report}
"""


if __name__ == "__main__":
    main()
