//! Chooses the FlatBuffers code that `src/schemas.rs` includes (via `ZEROTABLE_FLATBUFFERS_DIR`).
//!
//! The generated code is checked in under `src/generated/` so the crate builds on a machine with
//! no flatc at all. When the pinned flatc is available we regenerate anyway, so that editing a
//! schema takes effect immediately and a stale `src/generated/` is reported. Only std is used:
//! build-dependencies would be compiled by every user of the crate.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Must match the `flatbuffers` runtime in Cargo.toml: flatc output only compiles against the
/// runtime of the same release (e.g. Debian's flatc 2.0.8 output fails with flatbuffers 25.x).
const FLATC_VERSION: &str = "25.12.19";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let checked_in = manifest.join("src").join("generated");
    println!("cargo:rerun-if-changed=schemas");
    println!("cargo:rerun-if-changed=src/generated");
    println!("cargo:rerun-if-env-changed=FLATC");
    println!("cargo:rerun-if-env-changed=PATH");

    // Without the feature nothing includes the generated code: don't run an arbitrary flatc
    // found on the PATH of every downstream user.
    let dir = if env::var_os("CARGO_FEATURE_EXAMPLE_SCHEMAS").is_some() {
        regenerate(&manifest, &checked_in).unwrap_or(checked_in)
    } else {
        checked_in
    };
    println!(
        "cargo:rustc-env=ZEROTABLE_FLATBUFFERS_DIR={}",
        dir.display()
    );
}

/// Runs the pinned flatc into `$OUT_DIR/flatbuffers` and returns that directory, or `None` (use
/// the checked-in code) when no flatc of exactly `FLATC_VERSION` is available.
fn regenerate(manifest: &Path, checked_in: &Path) -> Option<PathBuf> {
    let flatc = env::var_os("FLATC").unwrap_or_else(|| "flatc".into());
    // A missing flatc is the normal case on a fresh machine: fall back silently.
    let out = Command::new(&flatc).arg("--version").output().ok()?;
    let version = String::from_utf8_lossy(&out.stdout);
    let version = version.trim();
    if version.strip_prefix("flatc version ") != Some(FLATC_VERSION) {
        println!(
            "cargo:warning=ignoring {} ({version:?}): need flatc {FLATC_VERSION}; using the checked-in src/generated",
            flatc.to_string_lossy()
        );
        return None;
    }

    let schemas = manifest.join("schemas");
    let args = fs::read_to_string(schemas.join("flatc-args")).expect("read schemas/flatc-args");
    let args = args
        .lines()
        .flat_map(|l| l.split('#').next().unwrap().split_whitespace());
    let mut inputs: Vec<PathBuf> = fs::read_dir(&schemas)
        .expect("read schemas/")
        .map(|e| e.expect("read schemas/").path())
        .filter(|p| p.extension().is_some_and(|e| e == "fbs"))
        .collect();
    inputs.sort();

    // Start from an empty directory so outputs of deleted schemas don't linger.
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("flatbuffers");
    let _ = fs::remove_dir_all(&out_dir);
    fs::create_dir_all(&out_dir).expect("create $OUT_DIR/flatbuffers");
    // Output captured: a build script's stdout is parsed by cargo as `cargo:` directives.
    let run = Command::new(&flatc)
        .args(args)
        .arg("-o")
        .arg(&out_dir)
        .args(&inputs)
        .output();
    // The right flatc rejecting our schemas is a real error in schemas/, not a missing tool.
    match run {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "flatc failed on schemas/:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("running {}: {e}", flatc.to_string_lossy()),
    }

    if read_files(&out_dir) != read_files(checked_in) {
        println!(
            "cargo:warning=src/generated is stale (differs from flatc {FLATC_VERSION} output for schemas/); \
             building with the fresh output. Update it with `.ci/check-generated.sh --fix`."
        );
    }
    Some(out_dir)
}

/// File names and contents of a directory, sorted, for comparison.
fn read_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}
