//! Second processes for tests that need one: the test binary re-runs itself with only its
//! `child_process_helper` test selected, and that test reads its role and path from the
//! environment. Each test binary only ever re-runs itself, so one pair of variable names serves
//! them all.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use std::{fs, thread};

use zerotable::Storage;

/// The environment variable that makes `child_process_helper` act; its value is the role.
pub const CHILD_ROLE: &str = "ZEROTABLE_TEST_CHILD_ROLE";
/// The file (or directory) the child works on.
pub const CHILD_PATH: &str = "ZEROTABLE_TEST_CHILD_PATH";
/// What a holding child prints once its database is open (the test harness may print its own
/// text before it on the same line).
pub const READY: &str = "ZEROTABLE-CHILD-READY";
/// What an unprivileged child prints once its checks passed.
pub const CHECKED: &str = "ZEROTABLE-CHILD-CHECKED";
/// `nobody` on Linux: the user the unprivileged child runs as.
pub const NOBODY: u32 = 65534;

/// How long a holding child may take to report its database open.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A child process that dies with the guard (killed by its own id, then reaped).
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Re-runs this test binary with only `child_process_helper` selected, in `role`, on `path`.
pub fn child_command(role: &str, path: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "--exact",
            "child_process_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ROLE, role)
        .env(CHILD_PATH, path);
    command
}

/// In `child_process_helper`: the role and path this process was started with, or `None` in
/// a normal test run (the helper then does nothing).
pub fn child_role() -> Option<(String, PathBuf)> {
    let role = std::env::var(CHILD_ROLE).ok()?;
    let path = PathBuf::from(std::env::var_os(CHILD_PATH).expect("the child's path"));
    Some((role, path))
}

/// Runs `f` on another thread; `None` if it has not finished within `limit`.
pub fn within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (send, receive) = mpsc::channel();
    thread::spawn(move || {
        let _ = send.send(f());
    });
    receive.recv_timeout(limit).ok()
}

/// Starts a child in `role` on `path` and waits until it prints [`READY`] (see
/// [`announce_ready_and_hold`]); fails the test if it does not within a minute. The child
/// lives as long as the guard, or until its stdin is closed.
pub fn spawn_until_ready(role: &str, path: &Path) -> ChildGuard {
    let mut child = ChildGuard(
        child_command(role, path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the child process"),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let ready = within(READY_WITHIN, move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(READY))
    });
    assert_eq!(
        ready,
        Some(true),
        "the child never reported the database open"
    );
    child
}

/// In a child started by [`spawn_until_ready`]: reports it is ready, then holds whatever it has
/// open until the parent closes stdin or kills this process.
pub fn announce_ready_and_hold() {
    let mut stdout = io::stdout();
    writeln!(stdout, "{READY}").unwrap();
    stdout.flush().unwrap();
    let mut line = String::new();
    while io::stdin().read_line(&mut line).is_ok_and(|read| read > 0) {}
}

/// In a child started by [`spawn_until_ready`]: opens the database at `path`, commits `value`
/// under key 1 of raw table `rows`, and holds it open (see [`announce_ready_and_hold`]).
pub fn hold_database(path: &Path, value: &[u8]) {
    let storage = Storage::open(path).expect("the child opens the database");
    let table = storage.raw_table::<u64>("rows").unwrap();
    table.put(&1, value).unwrap();
    announce_ready_and_hold();
}

/// Whether this process may open `path` for writing despite its permission bits (root, or
/// `CAP_DAC_OVERRIDE`).
pub fn writes_ignore_permission_bits(path: &Path) -> bool {
    fs::OpenOptions::new().write(true).open(path).is_ok()
}

/// In a child started by [`check_as_nobody`]: checks that permission bits bind this process
/// (it cannot write `read_only_file`), runs `checks`, and reports [`CHECKED`] once they passed.
pub fn unprivileged_checks(read_only_file: &Path, checks: impl FnOnce()) {
    assert!(
        !writes_ignore_permission_bits(read_only_file),
        "the child can write a 0o444 file"
    );
    checks();
    println!("{CHECKED}");
}

/// Runs `command` (from [`child_command`]) as [`NOBODY`] and fails the test unless the child
/// succeeds and prints [`CHECKED`]. `Err` only when no such child can be started (the caller
/// says what is then skipped).
pub fn check_as_nobody(command: &mut Command) -> io::Result<()> {
    let output = command
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains(CHECKED),
        "the unprivileged child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
