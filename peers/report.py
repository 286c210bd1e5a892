#!/usr/bin/env python3
"""Turns the results of the peers benchmark suite into markdown tables (used by run.sh).

Reads, under the target directory:
  criterion/**/new/benchmark.json + estimates.json   one per benchmark: criterion records the
      exact group and function names in benchmark.json, so no directory-name mapping is guessed
  peers-size.json                                    written by benches/size.rs
  peers-timings.tsv                                  seconds per bench, written by run.sh
Prints the report; with --write PATH, also writes it there with the machine, toolchain and crate
versions.

Besides the tables of every workload (ratios against --reference), it makes the per-engine table:
for each engine, zerotable on it divided by the engine's own API ("raw X"), for each measured
operation, all from the same run; and draws those ratios as an SVG chart (hand-written, no
plotting library): target/peers-engines.svg, and with --write, BENCHMARKS-engines.svg (full mode)
or BENCHMARKS-engines-reduced.svg (reduced mode) beside the written file, which embeds it.
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
          "heed", "lmdb-master-sys", "fjall", "lsm-tree", "rusqlite", "libsqlite3-sys", "rocksdb",
          "librocksdb-sys", "criterion"]

# Every engine zerotable runs on, with the contender using the engine's own API for the same
# logical work ("raw X") and zerotable's validated rkyv table on it; the chart's colour of each.
ENGINES = [
    ("redb", "raw redb", "zerotable rkyv (redb)", "#4e79a7"),
    ("fjall", "raw fjall", "zerotable rkyv (fjall)", "#f28e2b"),
    ("LMDB", "heed (LMDB, rkyv)", "zerotable rkyv (LMDB)", "#59a14f"),
    ("SQLite", "raw SQLite (blob, rkyv)", "zerotable rkyv (SQLite)", "#e15759"),
    ("RocksDB", "raw RocksDB", "zerotable rkyv (RocksDB)", "#b07aa1"),
]

# The operations of the per-engine table, in its column order: (criterion group, or "size" for
# size on disk after compaction; column title; whether the ≤ TARGET ratio applies to it).
ENGINE_OPERATIONS = [
    ("point_get_hot", "get, 10K hot", True),
    ("point_get_large", "get, {rows}", True),
    ("scan_full", "full fold", True),
    ("range_read", "seek + 10", False),
    ("bulk_load", "bulk load", True),
    ("write_one_durable", "{commits} commits, fsync", False),
    ("write_one_nosync", "{commits} commits, no fsync", False),
    ("size", "size on disk", False),
]

# The most zerotable on an engine may cost over the engine's own API, for the operations marked
# above (issue 11: get, fold and load within 1.10×).
TARGET = 1.10


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


def engine_ratios(results, sizes):
    """[(engine, colour, {operation: ratio zerotable / raw})] for every engine both of whose
    contenders were measured in this run (an operation missing on either side is left out)."""
    compacted = {c["name"]: c["compacted_bytes"] for c in sizes["contenders"]} if sizes else {}
    rows = []
    for engine, raw, zerotable, colour in ENGINES:
        ratios = {}
        for group, _title, _target in ENGINE_OPERATIONS:
            if group == "size":
                ours, theirs = compacted.get(zerotable), compacted.get(raw)
            else:
                ours = results.get(group, {}).get(zerotable, (None,))[0]
                theirs = results.get(group, {}).get(raw, (None,))[0]
            if ours and theirs:
                ratios[group] = ours / theirs
        if ratios:
            rows.append((engine, colour, ratios))
    return rows


def engine_table(rows, fill):
    """The per-engine table: one row per engine, one column per operation, then the targets."""
    titles = [title.format(**fill) for _group, title, _target in ENGINE_OPERATIONS]
    lines = ["| engine: zerotable on X / raw X | " + " | ".join(titles) + " | targets |",
             "|---|" + "---:|" * len(titles) + "---|"]
    names = {engine: (raw, zerotable) for engine, raw, zerotable, _colour in ENGINES}
    for engine, _colour, ratios in rows:
        cells, missed, unmeasured = [], [], []
        for group, title, target in ENGINE_OPERATIONS:
            ratio = ratios.get(group)
            if ratio is None:
                cells.append("")
                if target:
                    unmeasured.append(title.format(**fill))
                continue
            over = target and ratio > TARGET
            cells.append(f"**{ratio:.2f}×**" if over else f"{ratio:.2f}×")
            if over:
                missed.append(f"{title.format(**fill)} {ratio:.2f}×")
        if missed:
            verdict = "missed: " + "; ".join(missed)
        elif unmeasured:
            verdict = "not measured: " + "; ".join(unmeasured)
        else:
            verdict = f"met (≤ {TARGET:.2f}×)"
        raw, zerotable = names[engine]
        lines.append(f"| **{engine}**: {zerotable} / {raw} | " + " | ".join(cells) +
                     f" | {verdict} |")
    return lines


def svg_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def engine_chart(rows, fill, subtitle):
    """The per-engine ratios as an SVG bar chart: one group of bars per operation, one bar (one
    colour) per engine, a line at 1.0 (as fast as the engine's own API) and one at the target.
    Bars taller than the axis are cut at its top, their value written above them."""
    operations = [(group, title.format(**fill), target)
                  for group, title, target in ENGINE_OPERATIONS
                  if any(group in ratios for _e, _c, ratios in rows)]
    values = [ratios[group] for _e, _c, ratios in rows for group, _t, _x in operations
              if group in ratios]
    top = 2.0
    while top < min(max(values, default=1.0) * 1.08, 4.0):
        top += 0.5
    bar, gap = 16, 24
    group_width = bar * len(rows) + gap
    left, right, head, foot = 56, 16, 78, 70
    plot_height = 260
    width = left + right + group_width * len(operations) + gap
    height = head + plot_height + foot

    def y(ratio):
        return head + plot_height * (1 - min(ratio, top) / top)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           "<title>zerotable on each engine, divided by the engine's own API "
           "(lower is better)</title>",
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14" font-weight="bold">zerotable on X / raw X '
           "(lower is better; 1.0 = as fast as the engine's own API)</text>",
           f'<text x="{left}" y="34" fill="#555">{svg_escape(subtitle)}</text>']
    # Legend.
    x = left
    for engine, colour, _ratios in rows:
        out.append(f'<rect x="{x}" y="46" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 16}" y="56">{svg_escape(engine)}</text>')
        x += 24 + 7 * len(engine) + 16
    # Axis, grid and ticks.
    tick = 0.0
    while tick <= top + 1e-9:
        ty = y(tick)
        out.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" '
                   'stroke="#e4e4e4"/>')
        out.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end">{tick:.1f}×</text>')
        tick += 0.5
    out.append(f'<line x1="{left}" y1="{head}" x2="{left}" y2="{head + plot_height}" '
               'stroke="#333"/>')
    # Bars.
    for i, (group, title, target) in enumerate(operations):
        gx = left + gap + i * group_width
        for j, (engine, colour, ratios) in enumerate(rows):
            ratio = ratios.get(group)
            if ratio is None:
                continue
            bx = gx + j * bar
            by = y(ratio)
            out.append(f'<rect x="{bx}" y="{by:.1f}" width="{bar - 2}" '
                       f'height="{head + plot_height - by:.1f}" fill="{colour}">'
                       f'<title>{svg_escape(engine)}, {svg_escape(title)}: {ratio:.2f}×</title>'
                       "</rect>")
            if ratio > top:
                out.append(f'<text x="{bx + (bar - 2) / 2}" y="{head - 3}" font-size="9" '
                           f'text-anchor="middle">{ratio:.1f}</text>')
        label_x = gx + (group_width - gap) / 2
        lines = title.split(", ")
        if target:
            lines[-1] += " *"
        out.append(f'<text x="{label_x:.1f}" y="{head + plot_height + 16}" '
                   'text-anchor="middle">' +
                   "".join(f'<tspan x="{label_x:.1f}" dy="{0 if k == 0 else 13}">'
                           f"{svg_escape(line)}</tspan>" for k, line in enumerate(lines)) +
                   "</text>")
    # Reference lines, over the bars.
    for ratio, colour, dash, text in ((1.0, "#222", "", "1.0"),
                                      (TARGET, "#c00", ' stroke-dasharray="5 3"',
                                       f"target {TARGET:.2f}×")):
        ly = y(ratio)
        out.append(f'<line x1="{left}" y1="{ly:.1f}" x2="{width - right}" y2="{ly:.1f}" '
                   f'stroke="{colour}" stroke-width="1.2"{dash}/>')
        if ratio != 1.0:
            out.append(f'<text x="{width - right}" y="{ly - 4:.1f}" text-anchor="end" '
                       f'fill="{colour}">{text}</text>')
    out.append(f'<text x="{left}" y="{height - 14}" fill="#555">* the operations whose target '
               f"is ≤ {TARGET:.2f}× (get, fold, load); size on disk after compaction.</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def chart_name(quick):
    return "BENCHMARKS-engines-reduced.svg" if quick else "BENCHMARKS-engines.svg"


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


def crate_versions(lock_path, skip=()):
    """The versions of CRATES in `lock_path`, but those of `skip` (optional dependencies that
    the lock file lists whether or not this run built them)."""
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
        if name in found and name not in skip:
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
            "base": count(min(args.rows, 100_000)), "cores": cores,
            # RocksDB is in the lock file whether or not this run built it (feature rocksdb).
            "unbuilt": () if any("RocksDB" in name for name in order)
            else ("rocksdb", "librocksdb-sys")}

    body = []
    engines = engine_ratios(results, sizes)
    if engines:
        mode = "reduced" if args.quick else "full"
        svg = engine_chart(engines, fill, f"{mode} mode, {fill['rows']} rows, one run")
        args.target.mkdir(parents=True, exist_ok=True)
        (args.target / "peers-engines.svg").write_text(svg)
        if args.write:
            chart = args.write.parent / chart_name(args.quick)
            chart.write_text(svg)
            print(f"wrote {chart}", file=sys.stderr)
        body += ["#### zerotable on each engine, against the engine's own API", "",
                 "Each cell: zerotable's validated rkyv table on engine X divided by the "
                 "contender that does the same logical work with X's own API (\"raw X\": "
                 "u64 big-endian keys, the same rkyv bytes read with validated `rkyv::access`; "
                 "for LMDB, hand-written heed), both from this run; below 1× zerotable is "
                 f"faster. Targets: ≤ {TARGET:.2f}× for get, fold and bulk load (**bold**: "
                 "missed). Size on disk after compaction, measured the same way for both.", "",
                 f"![zerotable on X / raw X, per operation and engine]({chart_name(args.quick)})",
                 ""]
        body += engine_table(engines, fill)
        body.append("")
    for group, title, _unit, notes in WORKLOADS:
        if group not in results:
            continue
        body += [f"#### {title.format(**fill)}", "", notes.format(**fill), ""]
        body += workload_table(group, results[group], order, args.reference)
        body.append("")
    if sizes:
        body += [f"#### Size on disk, {count(sizes['rows'])} rows", "",
                 "Not a timing: `size_on_disk` after loading every row in one transaction, then "
                 "after `compact` (redb compaction, SQLite `VACUUM`, fjall's major compaction, "
                 "RocksDB's `compact_range`; a no-op where the engine has none, as LMDB). An "
                 "engine's raw contender and zerotable on it are measured the same way (every "
                 "file of the folder, by allocated blocks; SQLite: the file and its WAL).", ""]
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

zerotable against raw redb and the libraries a user would pick instead, and zerotable on every
engine against that engine's own API, every contender on the same data in the same run. The suite is the separate cargo workspace `peers/`: the contenders are
in `peers/src/contenders/`, the benchmarks in `peers/benches/`, the runner that made this file is
`peers/run.sh` (each section names its command).

## How to read the tables

- **median**: criterion's median time of one iteration (what an iteration is, each table says).
- **vs {args.reference}**: that median divided by {args.reference}'s: below 1× is faster than
  {args.reference}, above is slower.
- **throughput**: elements (gets, rows, reads, commits) of one iteration divided by the median.
- **zerotable on each engine** (each mode's first table and its chart): zerotable on engine X
  divided by "raw X", the same logical work through X's own API, per operation.
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
| crates | {crate_versions(here / 'Cargo.lock', fill['unbuilt'])} |

{report}
"""


if __name__ == "__main__":
    main()
