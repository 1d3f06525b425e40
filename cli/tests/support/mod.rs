//! Running the real `kv` binary in tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of `kv` did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The one line of stderr (failures print exactly one).
    #[track_caller]
    pub fn one_line_error(&self) -> &str {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stderr, got {:?}",
            self.stderr
        );
        lines[0]
    }
}

/// `kv --dir DIR ARGS...` with `stdin`, KV_DIR unset.
pub fn kv_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv"));
    cmd.arg("--dir").arg(dir);
    cmd.args(args);
    run(cmd, stdin)
}

/// `kv --dir DIR ARGS...`.
pub fn kv(dir: &Path, args: &[&str]) -> Run {
    kv_in(dir, args, b"")
}

/// `kv ARGS...` with no --dir (KV_DIR unset, run in `cwd`).
pub fn kv_bare(cwd: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv"));
    cmd.current_dir(cwd).args(args);
    run(cmd, b"")
}

/// Runs `cmd`; a run that has not ended after five minutes is a hang, killed and reported.
pub fn run(mut cmd: Command, stdin: &[u8]) -> Run {
    cmd.env_remove("KV_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start kv");
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    // Drain both pipes while the child runs, so a large output never blocks it.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kv {:?} hung", cmd.get_args().collect::<Vec<_>>());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    feeder.join().unwrap();
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Every file under `dir` with its bytes (LOCK files excluded: they are empty markers).
pub fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A new store in a temporary directory holding `pairs`, flushed to a table when `flush`.
pub fn store_with(pairs: &[(&str, &str)], flush: bool) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("db");
    let input: String = pairs.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
    kv_in(&dir, &["load", "-"], input.as_bytes()).expect(0);
    if flush {
        kv(&dir, &["flush"]).expect(0);
    }
    tmp
}

/// The store directory of a [`store_with`] temp dir.
pub fn db(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("db")
}

/// The table files of the store in `dir`.
pub fn tables(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    v.sort();
    v
}
