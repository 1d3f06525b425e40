//! Small durable-file helpers over the file-system seam: read a whole file, replace a file
//! atomically (write temp, fsync, rename, fsync directory), empty a directory tree.

use common::FileSystem;
use std::io;
use std::path::Path;

/// The whole content of `path`.
pub fn read_all(fs: &dyn FileSystem, path: &Path) -> io::Result<Vec<u8>> {
    let file = fs.open_read(path)?;
    let len = file.len()?;
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large"))?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, 0)?;
    Ok(buf)
}

/// Replaces `path` with `data` so that after a crash either the old or the new content is
/// there, whole: write `path.tmp`, fsync it, rename over `path`, fsync the directory.
pub fn replace_durably(fs: &dyn FileSystem, path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = common::fs::parent_dir(path);
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = Path::new(&tmp_name);
    {
        let mut f = fs.create(tmp)?;
        f.append(data)?;
        f.sync_all()?;
    }
    fs.rename(tmp, path)?;
    fs.sync_dir(dir)
}

/// Removes every file under `dir`, recursively (directories stay, empty; the seam has no
/// directory removal). A missing `dir` is fine.
pub fn clear_dir(fs: &dyn FileSystem, dir: &Path) -> io::Result<()> {
    if !fs.exists(dir) {
        return Ok(());
    }
    for name in fs.list_dir(dir)? {
        let p = dir.join(&name);
        if fs.is_dir(&p) {
            clear_dir(fs, &p)?;
        } else {
            fs.remove_file(&p)?;
        }
    }
    fs.sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::MemFs;

    #[test]
    fn replace_survives_a_crash_whole() {
        let fs = MemFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        replace_durably(&fs, Path::new("/d/F"), b"one").unwrap();
        replace_durably(&fs, Path::new("/d/F"), b"two").unwrap();
        let fs = fs.crash();
        assert_eq!(read_all(&fs, Path::new("/d/F")).unwrap(), b"two");
        clear_dir(&fs, Path::new("/d")).unwrap();
        assert!(!fs.exists(Path::new("/d/F")));
    }
}
