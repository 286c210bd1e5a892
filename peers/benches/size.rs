//! Size on disk of every contender, not a timing: loads `ZEROTABLE_BENCH_ROWS` rows (1,000,000
//! by default) in one transaction into a fresh store, records `size_on_disk`, compacts, records
//! it again. Prints a table and writes `peers-size.json` to the target directory
//! (`CARGO_TARGET_DIR`, or `target/` of this crate) for `run.sh`.
//!
//! ```text
//! cargo bench --bench size
//! ```

mod common;

use std::path::PathBuf;
use std::time::Instant;

use common::{Store, kinds, rows};
use zerotable_peers::Durability;

/// One contender's figures.
struct Sizes {
    name: &'static str,
    loaded: u64,
    compacted: u64,
    load_seconds: f64,
    compact_seconds: f64,
}

/// Escapes `text` as a JSON string.
fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ch if (ch as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", ch as u32)),
            ch => out.push(ch),
        }
    }
    out.push('"');
    out
}

fn main() {
    // Arguments cargo bench passes on (`--bench`, criterion flags) do not apply here.
    let count = rows();
    let mut all = Vec::new();
    println!("size on disk of {count} rows");
    println!(
        "{:<32} {:>14} {:>14} {:>8} {:>10}",
        "contender", "loaded", "compacted", "load s", "compact s"
    );
    for kind in kinds() {
        let mut store = Store::empty(kind, Durability::Immediate);
        let started = Instant::now();
        store.contender.load(&mut zerotable_peers::people(count));
        let load_seconds = started.elapsed().as_secs_f64();
        store.check(count);
        let loaded = store.contender.size_on_disk();
        let started = Instant::now();
        store.contender.compact();
        let compact_seconds = started.elapsed().as_secs_f64();
        let compacted = store.contender.size_on_disk();
        store.check(count);
        let sizes = Sizes {
            name: store.name(),
            loaded,
            compacted,
            load_seconds,
            compact_seconds,
        };
        println!(
            "{:<32} {:>14} {:>14} {:>8.2} {:>10.2}",
            sizes.name, sizes.loaded, sizes.compacted, sizes.load_seconds, sizes.compact_seconds
        );
        all.push(sizes);
    }

    let entries: Vec<String> = all
        .iter()
        .map(|s| {
            format!(
                "    {{\"name\": {}, \"loaded_bytes\": {}, \"compacted_bytes\": {}, \"load_seconds\": {:.3}, \"compact_seconds\": {:.3}}}",
                json_string(s.name),
                s.loaded,
                s.compacted,
                s.load_seconds,
                s.compact_seconds
            )
        })
        .collect();
    let json = format!(
        "{{\n  \"rows\": {count},\n  \"contenders\": [\n{}\n  ]\n}}\n",
        entries.join(",\n")
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&target).expect("target directory");
    let path = target.join("peers-size.json");
    std::fs::write(&path, json).expect("write the size file");
    println!("wrote {}", path.display());
}
