//! Layer unpack tests with hand-built tars (including hostile ones the `tar` crate's
//! builder refuses to write, so names are poked into headers directly).

use super::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// mknod/chown/trusted.* xattrs need root. Skipped otherwise, except under CI=true.
fn require_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("layer unpack tests need root (CI=true)");
    }
    eprintln!("skipping: layer unpack tests need root");
    false
}

struct TarBuilder {
    b: tar::Builder<Vec<u8>>,
}

fn header(name: &str, kind: EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    // Write the name bytes raw: set_path() rejects "..", which is what we want to test.
    let bytes = name.as_bytes();
    assert!(bytes.len() < 100);
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h
}

impl TarBuilder {
    fn new() -> Self {
        TarBuilder {
            b: tar::Builder::new(Vec::new()),
        }
    }
    fn push(&mut self, mut h: tar::Header, data: &[u8]) -> &mut Self {
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }
    fn dir(&mut self, name: &str) -> &mut Self {
        self.push(header(name, EntryType::Directory, 0, 0o755), &[])
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.push(
            header(name, EntryType::Regular, data.len() as u64, 0o644),
            data,
        )
    }
    fn link(&mut self, kind: EntryType, name: &str, target: &str) -> &mut Self {
        let mut h = header(name, kind, 0, 0o777);
        let t = target.as_bytes();
        h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
        self.push(h, &[])
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(EntryType::Symlink, name, target)
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(EntryType::Link, name, target)
    }
    fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("diff");
    let outside = tmp.path().join("outside");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("passwd"), b"host secret").unwrap();
    Fixture {
        _tmp: tmp,
        root,
        outside,
    }
}

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

#[test]
fn regular_entries_and_metadata() {
    if !require_root() {
        return;
    }
    let f = fixture();
    let mut t = TarBuilder::new();
    t.dir("bin/").file("bin/tool", b"#!/bin/sh\n");
    let mut h = header("bin/suid", EntryType::Regular, 3, 0o4755);
    h.set_uid(1000);
    h.set_gid(1001);
    t.push(h, b"abc");
    t.symlink("bin/sh", "/bin/tool");
    t.hardlink("bin/tool2", "bin/tool");
    let mut dev = header("dev/null", EntryType::Char, 0, 0o666);
    dev.set_device_major(1).unwrap();
    dev.set_device_minor(3).unwrap();
    t.push(dev, &[]);
    t.push(header("run/fifo", EntryType::Fifo, 0, 0o600), &[]);
    // A PAX header carrying an xattr for the next entry.
    let mut b = std::mem::replace(&mut t.b, tar::Builder::new(Vec::new()));
    b.append_pax_extensions([("SCHILY.xattr.user.pouch", b"yes".as_slice())])
        .unwrap();
    t.b = b;
    t.file("etc/withxattr", b"x");
    let data = t.finish();

    let stats = apply_tar(&data[..], &f.root).unwrap();
    assert_eq!(stats.diff_id, sha(&data));
    // As dockerd counts: tool once for its hard link, suid, the symlink's target text
    // (`/bin/tool`, 9 bytes), withxattr; devices and the fifo are 0.
    assert_eq!(stats.size, 10 + 3 + 9 + 1);

    let r = &f.root;
    assert_eq!(fs::read(r.join("bin/tool")).unwrap(), b"#!/bin/sh\n");
    let m = fs::metadata(r.join("bin/tool")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o644);
    assert_eq!(m.mtime(), 1_600_000_000);
    let m = fs::metadata(r.join("bin/suid")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1001));
    assert_eq!(m.mode() & 0o7777, 0o4755, "chmod must follow chown");
    assert_eq!(
        fs::read_link(r.join("bin/sh")).unwrap(),
        Path::new("/bin/tool")
    );
    let a = fs::metadata(r.join("bin/tool")).unwrap();
    let b = fs::metadata(r.join("bin/tool2")).unwrap();
    assert_eq!(a.ino(), b.ino());
    let m = fs::metadata(r.join("dev/null")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), makedev(1, 3));
    assert!(fs::metadata(r.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(
        xattr::get(r.join("etc/withxattr"), "user.pouch")
            .unwrap()
            .as_deref(),
        Some(b"yes".as_slice())
    );
    // Directory mtimes are applied after their children were created.
    assert_eq!(fs::metadata(r.join("bin")).unwrap().mtime(), 1_600_000_000);
}

#[test]
fn whiteouts_and_opaque_dirs() {
    if !require_root() {
        return;
    }
    let f = fixture();
    let data = TarBuilder::new()
        .dir("etc/")
        .file("etc/.wh.removed", b"")
        .dir("var/cache/")
        .file("var/cache/.wh..wh..opq", b"")
        .file("var/cache/new", b"n")
        .file(".wh..wh.plnk", b"")
        .finish();
    apply_tar(&data[..], &f.root).unwrap();

    let wh = fs::symlink_metadata(f.root.join("etc/removed")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    assert!(!f.root.join("etc/.wh.removed").exists());
    assert_eq!(
        xattr::get(f.root.join("var/cache"), OPAQUE_XATTR)
            .unwrap()
            .as_deref(),
        Some(b"y".as_slice())
    );
    assert!(!f.root.join("var/cache/.wh..wh..opq").exists());
    assert_eq!(fs::read(f.root.join("var/cache/new")).unwrap(), b"n");
    assert!(!f.root.join(".wh..wh.plnk").exists());
}

#[test]
fn dotdot_cannot_escape() {
    let f = fixture();
    for evil in ["../evil", "a/../../evil", "/../evil", "./../evil"] {
        let data = TarBuilder::new().file(evil, b"pwned").finish();
        let err = apply_tar(&data[..], &f.root).unwrap_err();
        assert!(matches!(err, UnpackError::Breakout(_)), "{evil}: {err}");
        assert!(!f.root.parent().unwrap().join("evil").exists(), "{evil}");
    }
    // `..` that stays inside is just a path.
    let data = TarBuilder::new().file("a/../b", b"ok").finish();
    apply_tar(&data[..], &f.root).unwrap();
    assert_eq!(fs::read(f.root.join("b")).unwrap(), b"ok");
    // Absolute names are relative to the root.
    let data = TarBuilder::new().file("/abs", b"ok").finish();
    apply_tar(&data[..], &f.root).unwrap();
    assert!(f.root.join("abs").is_file());
}

#[test]
fn symlinks_cannot_escape() {
    let f = fixture();
    let outside = f.outside.to_str().unwrap().to_string();
    let data = TarBuilder::new()
        // Absolute symlink to a real host dir, then a file "through" it.
        .symlink("a", &outside)
        .file("a/passwd", b"pwned")
        // Relative symlink climbing far above the root.
        .symlink("b", "../../../../../..")
        .file(&format!("b{}/x", outside), b"pwned")
        .finish();
    apply_tar(&data[..], &f.root).unwrap();

    assert_eq!(fs::read(f.outside.join("passwd")).unwrap(), b"host secret");
    assert!(!f.outside.join("x").exists());
    // The writes landed inside the root, where a chroot would have put them.
    let inside = f.root.join(outside.trim_start_matches('/'));
    assert_eq!(fs::read(inside.join("passwd")).unwrap(), b"pwned");
    assert_eq!(fs::read(inside.join("x")).unwrap(), b"pwned");
    // The symlinks themselves are kept verbatim.
    assert_eq!(fs::read_link(f.root.join("a")).unwrap(), f.outside);
}

#[test]
fn final_symlink_component_is_replaced_not_followed() {
    let f = fixture();
    let target = f.outside.join("passwd");
    let data = TarBuilder::new()
        .symlink("c", target.to_str().unwrap())
        .file("c", b"pwned")
        .finish();
    apply_tar(&data[..], &f.root).unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"host secret");
    let m = fs::symlink_metadata(f.root.join("c")).unwrap();
    assert!(m.is_file());
    assert_eq!(fs::read(f.root.join("c")).unwrap(), b"pwned");
}

#[test]
fn hardlinks_stay_inside() {
    let f = fixture();
    // Linking to a host file by `..` is a breakout.
    let data = TarBuilder::new()
        .hardlink("h", "../outside/passwd")
        .finish();
    assert!(matches!(
        apply_tar(&data[..], &f.root).unwrap_err(),
        UnpackError::Breakout(_)
    ));
    // Linking through a symlink resolves inside the root: the host file is not there.
    let outside = f.outside.to_str().unwrap().to_string();
    let data = TarBuilder::new()
        .symlink("a", &outside)
        .hardlink("h", "a/passwd")
        .finish();
    assert!(matches!(
        apply_tar(&data[..], &f.root).unwrap_err(),
        UnpackError::HardlinkTarget { .. }
    ));
    assert!(!f.root.join("h").exists());
    // Absolute link names are relative to the root too.
    let data = TarBuilder::new()
        .file("etc/real", b"r")
        .hardlink("etc/alias", "/etc/real")
        .finish();
    apply_tar(&data[..], &f.root).unwrap();
    let a = fs::metadata(f.root.join("etc/real")).unwrap();
    let b = fs::metadata(f.root.join("etc/alias")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!(fs::metadata(f.outside.join("passwd")).unwrap().nlink(), 1);
}

#[test]
fn replaces_file_with_dir_and_back() {
    let f = fixture();
    let data = TarBuilder::new()
        .file("x", b"file")
        .dir("x/")
        .file("x/inner", b"i")
        .dir("y/")
        .file("y/inner", b"i")
        .file("y", b"now a file")
        .finish();
    apply_tar(&data[..], &f.root).unwrap();
    assert!(f.root.join("x").is_dir());
    assert!(f.root.join("x/inner").is_file());
    assert_eq!(fs::read(f.root.join("y")).unwrap(), b"now a file");
}

#[test]
fn gzip_and_plain_blobs() {
    let f = fixture();
    let tar = TarBuilder::new().file("hello", b"world").finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();

    let mut seen = 0;
    let stats = apply_layer(&gz[..], &f.root, |n| seen = n).unwrap();
    assert_eq!(stats.diff_id, sha(&tar));
    assert_eq!(seen, gz.len() as u64);
    assert_eq!(fs::read(f.root.join("hello")).unwrap(), b"world");

    let stats = apply_layer(&tar[..], &f.root, |_| {}).unwrap();
    assert_eq!(stats.diff_id, sha(&tar));

    let zstd_magic = [0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0];
    assert!(matches!(
        apply_layer(&zstd_magic[..], &f.root, |_| {}),
        Err(UnpackError::Zstd)
    ));
}
