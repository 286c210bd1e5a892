//! Size on disk measured the same way for a raw engine and zerotable on it, so their ratio is
//! the layer's and not the measurement's.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The bytes allocated to every file under `path` (`st_blocks * 512`, so sparse files such as
/// LMDB's map count what they hold, not their length); 0 if it does not exist.
pub(crate) fn tree_bytes(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.blocks() * 512;
    }
    fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| tree_bytes(&entry.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// A SQLite database's bytes: the main file plus its WAL (the shared-memory index, 32 KiB, is
/// not data), by length as the `Sqlite` contender counts them.
pub(crate) fn sqlite_bytes(file: &Path) -> u64 {
    let len = |path: &Path| fs::metadata(path).map_or(0, |meta| meta.len());
    let mut wal = file.to_path_buf().into_os_string();
    wal.push("-wal");
    len(file) + len(Path::new(&wal))
}
