//! What the tests share: running a program's binary and reading its output.

use std::process::Command;

/// Runs the binary at `exe` (from `env!("CARGO_BIN_EXE_<name>")`) with `args`; asserts it
/// succeeded and returns its standard output.
pub fn run_bin(exe: &str, args: &[&std::path::Path]) -> String {
    let out = Command::new(exe)
        .args(args)
        .output()
        .expect("the program starts");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    assert!(
        out.status.success(),
        "{exe} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The line of `output` that starts with `prefix`.
pub fn line<'a>(output: &'a str, prefix: &str) -> &'a str {
    output
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{output}"))
}
