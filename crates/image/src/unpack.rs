//! Applying a layer tar to an overlay2 `diff` directory.
//!
//! We do not use `tar::Entry::unpack`: every path is resolved by us inside the layer root
//! (`..` may not climb out; symlinks met on the way are followed as if the root were `/`),
//! the final component is never followed, and whiteouts become overlayfs whiteouts
//! (`.wh.x` → char device 0:0 `x`; `.wh..wh..opq` → `trusted.overlay.opaque=y`).

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use sha2::{Digest, Sha256};
use tar::EntryType;
use tracing::{debug, warn};

use crate::error::UnpackError;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// aufs bookkeeping entries (`.wh..wh.plnk`, `.wh..wh.aufs`) that have no overlay meaning.
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
/// Same bound as the kernel's symlink-follow limit.
const MAX_SYMLINKS: usize = 40;

/// Result of applying one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    /// `sha256:<hex>` of the uncompressed tar stream.
    pub diff_id: String,
    /// What dockerd's overlay2 reports as the layer's size: [`diff_size`] of the result.
    pub size: u64,
}

/// Compression detected from the first bytes of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Sniffs compression by magic number; media types lie often enough that Docker does this too.
pub fn detect_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Decompresses `blob` (gzip or plain tar) and applies it under `root`, which must exist.
/// `on_read` is called with the running count of compressed bytes consumed.
pub fn apply_layer<R: Read>(
    blob: R,
    root: &Path,
    on_read: impl FnMut(u64),
) -> Result<UnpackStats, UnpackError> {
    let mut buffered = BufReader::with_capacity(
        256 * 1024,
        CountingReader {
            inner: blob,
            count: 0,
            on_read,
        },
    );
    let head = buffered.fill_buf().map_err(UnpackError::Tar)?;
    let decompressed: Box<dyn Read> = match detect_compression(head) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => return Err(UnpackError::Zstd),
        Compression::None => Box::new(buffered),
    };
    apply_tar(decompressed, root)
}

/// Applies an uncompressed tar stream under `root`.
pub fn apply_tar<R: Read>(tar_stream: R, root: &Path) -> Result<UnpackStats, UnpackError> {
    let hashing = HashingReader {
        inner: tar_stream,
        hasher: Sha256::new(),
    };
    let mut archive = tar::Archive::new(hashing);
    let mut applier = Applier::new(root);
    for entry in archive.entries().map_err(UnpackError::Tar)? {
        let mut entry = entry.map_err(UnpackError::Tar)?;
        applier.apply_entry(&mut entry)?;
    }
    applier.finish();
    // The diff ID covers the whole stream, including padding after the end-of-archive
    // blocks, so drain what tar did not read.
    let mut hashing = archive.into_inner();
    io::copy(&mut hashing, &mut io::sink()).map_err(UnpackError::Tar)?;
    Ok(UnpackStats {
        diff_id: format!("sha256:{}", hex::encode(hashing.hasher.finalize())),
        size: diff_size(root)?,
    })
}

/// dockerd's `directory.Size` of a layer's diff dir (what its overlay2 driver returns from
/// `ApplyDiff` and `DiffSize`): the apparent size of every entry that is not a directory,
/// symlinks included (their target's length), each inode once (hard links), empty files
/// and whiteouts (0/0 devices) adding nothing.
pub fn diff_size(root: &Path) -> Result<u64, UnpackError> {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut size = 0u64;
    // Explicit stack: as deep as the tree, never deeper (no symlink is followed).
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| UnpackError::io("listing", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| UnpackError::io("listing", &dir, e))?;
            let path = entry.path();
            let m = fs::symlink_metadata(&path).map_err(|e| UnpackError::io("stat", &path, e))?;
            if m.is_dir() {
                dirs.push(path);
                continue;
            }
            if m.len() == 0 || !seen.insert((m.dev(), m.ino())) {
                continue;
            }
            size += m.len();
        }
    }
    Ok(size)
}

struct CountingReader<R, F> {
    inner: R,
    count: u64,
    on_read: F,
}

impl<R: Read, F: FnMut(u64)> Read for CountingReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        (self.on_read)(self.count);
        Ok(n)
    }
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Lexically cleans a tar path into components relative to the root. `..` that would
/// climb above the root is a breakout (Docker rejects these layers too).
pub fn clean_relative(path: &Path) -> Result<Vec<OsString>, UnpackError> {
    let mut out: Vec<OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err(UnpackError::Breakout(path.display().to_string()));
                }
            }
            Component::Normal(n) => out.push(n.to_os_string()),
        }
    }
    Ok(out)
}

/// Resolves `dirs` (directory components) inside `root` as a chroot would: symlinks are
/// followed but absolute targets restart at `root` and `..` stops at `root`. Missing
/// directories are created (0755). Returns the resolved path relative to `root`, made only
/// of real directories, so joining a final component onto it stays inside the root.
pub fn resolve_dir_in_root(root: &Path, dirs: &[OsString]) -> Result<PathBuf, UnpackError> {
    let mut queue: VecDeque<OsString> = dirs.iter().cloned().collect();
    let mut cur = PathBuf::new();
    let mut links = 0usize;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            cur.pop();
            continue;
        }
        if name == "." || name.is_empty() {
            continue;
        }
        let next = cur.join(&name);
        let full = root.join(&next);
        match fs::symlink_metadata(&full) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(UnpackError::io(
                        "resolving",
                        &full,
                        io::Error::from_raw_os_error(nix::libc::ELOOP),
                    ));
                }
                let target = fs::read_link(&full)
                    .map_err(|e| UnpackError::io("reading symlink", &full, e))?;
                if target.is_absolute() {
                    cur = PathBuf::new();
                }
                let comps: Vec<OsString> = target
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_os_string()),
                        Component::ParentDir => Some(OsString::from("..")),
                        _ => None,
                    })
                    .collect();
                for c in comps.into_iter().rev() {
                    queue.push_front(c);
                }
            }
            Ok(m) if m.is_dir() => cur = next,
            Ok(_) => {
                return Err(UnpackError::io(
                    "resolving",
                    &full,
                    io::Error::from_raw_os_error(nix::libc::ENOTDIR),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&full)
                    .map_err(|e| UnpackError::io("creating directory", &full, e))?;
                cur = next;
            }
            Err(e) => return Err(UnpackError::io("resolving", &full, e)),
        }
    }
    Ok(cur)
}

/// Resolves a tar path to (absolute target path, final file name). The parent is resolved
/// inside the root; the final component is returned as-is and must never be followed.
fn resolve_entry(root: &Path, tar_path: &Path) -> Result<Option<(PathBuf, OsString)>, UnpackError> {
    let mut comps = clean_relative(tar_path)?;
    let Some(name) = comps.pop() else {
        return Ok(None); // the root itself
    };
    let parent = resolve_dir_in_root(root, &comps)?;
    Ok(Some((root.join(parent).join(&name), name)))
}

/// Removes whatever is at `path` without following it (a dir is removed recursively).
fn remove_existing(path: &Path) -> Result<(), UnpackError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(path).map_err(|e| UnpackError::io("removing", path, e))
        }
        Ok(_) => fs::remove_file(path).map_err(|e| UnpackError::io("removing", path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(UnpackError::io("inspecting", path, e)),
    }
}

struct Applier<'a> {
    root: &'a Path,
    /// Directory mtimes are set last: creating children would bump them again.
    dir_times: Vec<(PathBuf, u64)>,
    /// chown needs CAP_CHOWN; without it (tests as non-root) keep our own ids.
    can_chown: bool,
}

impl<'a> Applier<'a> {
    fn new(root: &'a Path) -> Self {
        Applier {
            root,
            dir_times: Vec::new(),
            can_chown: nix::unistd::geteuid().is_root(),
        }
    }

    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let tar_path = entry.path().map_err(UnpackError::Tar)?.into_owned();
        let resolved = resolve_entry(self.root, &tar_path)?;
        let Some((path, name)) = resolved else {
            // "./" entry: apply the root directory's metadata.
            if kind == EntryType::Directory {
                let root = self.root.to_path_buf();
                self.apply_metadata(entry, &root, true)?;
            }
            return Ok(());
        };

        let name_str = name.to_string_lossy();
        if name_str == OPAQUE_MARKER {
            let dir = path.parent().unwrap_or(self.root);
            return xattr::set(dir, OPAQUE_XATTR, b"y")
                .map_err(|e| UnpackError::io("marking opaque", dir, e));
        }
        if name_str.starts_with(WHITEOUT_META_PREFIX) {
            debug!(path = %tar_path.display(), "skipping aufs metadata entry");
            return Ok(());
        }
        if let Some(hidden) = name_str.strip_prefix(WHITEOUT_PREFIX) {
            let target = path.with_file_name(hidden);
            remove_existing(&target)?;
            mknod(&target, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
                .map_err(|e| UnpackError::io("creating whiteout", &target, e.into()))?;
            self.chown(entry, &target)?;
            return Ok(());
        }

        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&path) {
                    Ok(m) if m.is_dir() => {}
                    _ => {
                        remove_existing(&path)?;
                        fs::DirBuilder::new()
                            .mode(0o755)
                            .create(&path)
                            .map_err(|e| UnpackError::io("creating directory", &path, e))?;
                    }
                }
                self.apply_metadata(entry, &path, true)?;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                remove_existing(&path)?;
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| UnpackError::io("creating file", &path, e))?;
                io::copy(entry, &mut file).map_err(UnpackError::Tar)?;
                file.flush()
                    .map_err(|e| UnpackError::io("writing", &path, e))?;
                drop(file);
                self.apply_metadata(entry, &path, false)?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(UnpackError::Tar)?
                    .ok_or_else(|| UnpackError::Tar(io::Error::other("symlink without target")))?
                    .into_owned();
                remove_existing(&path)?;
                // The target text is stored verbatim: it is only ever followed inside a
                // container's root (or inside our own scoped resolution).
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(|e| UnpackError::io("creating symlink", &path, e))?;
                self.apply_metadata(entry, &path, false)?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(UnpackError::Tar)?
                    .ok_or_else(|| UnpackError::Tar(io::Error::other("hard link without target")))?
                    .into_owned();
                let Some((target, _)) = resolve_entry(self.root, &link)? else {
                    return Err(UnpackError::Breakout(link.display().to_string()));
                };
                match fs::symlink_metadata(&target) {
                    Ok(m) if !m.is_dir() => {}
                    _ => {
                        return Err(UnpackError::HardlinkTarget {
                            name: tar_path.display().to_string(),
                            target: link.display().to_string(),
                        })
                    }
                }
                if target == path {
                    return Ok(());
                }
                remove_existing(&path)?;
                // std's hard_link uses linkat without AT_SYMLINK_FOLLOW: a symlink target
                // is linked itself, never what it points to.
                fs::hard_link(&target, &path)
                    .map_err(|e| UnpackError::io("creating hard link", &path, e))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                remove_existing(&path)?;
                let h = entry.header();
                let (flag, dev) = match kind {
                    EntryType::Char => (SFlag::S_IFCHR, device(h)?),
                    EntryType::Block => (SFlag::S_IFBLK, device(h)?),
                    _ => (SFlag::S_IFIFO, 0),
                };
                mknod(&path, flag, Mode::from_bits_truncate(0o600), dev)
                    .map_err(|e| UnpackError::io("creating device", &path, e.into()))?;
                self.apply_metadata(entry, &path, false)?;
            }
            other => {
                warn!(path = %tar_path.display(), kind = ?other, "skipping unsupported tar entry type");
            }
        }
        Ok(())
    }

    fn chown<R: Read>(&self, entry: &tar::Entry<'_, R>, path: &Path) -> Result<(), UnpackError> {
        if !self.can_chown {
            return Ok(());
        }
        let h = entry.header();
        // Go's archive/tar reads an empty numeric field as 0, and images are built with it.
        let uid = h.uid().unwrap_or(0);
        let gid = h.gid().unwrap_or(0);
        let (uid, gid) = (to_u32(uid)?, to_u32(gid)?);
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(|e| UnpackError::io("chown", path, e))
    }

    /// Ownership, then mode (chown clears set-id bits), xattrs, mtime.
    fn apply_metadata<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
        is_dir: bool,
    ) -> Result<(), UnpackError> {
        self.chown(entry, path)?;
        let h = entry.header();
        let is_symlink = h.entry_type() == EntryType::Symlink;
        if !is_symlink {
            let mode = h.mode().map_err(UnpackError::Tar)? & 0o7777;
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .map_err(|e| UnpackError::io("chmod", path, e))?;
        }
        let mtime = h.mtime().unwrap_or(0);
        self.apply_xattrs(entry, path)?;
        if is_dir {
            self.dir_times.push((path.to_path_buf(), mtime));
        } else {
            set_mtime(path, mtime)?;
        }
        Ok(())
    }

    fn apply_xattrs<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        path: &Path,
    ) -> Result<(), UnpackError> {
        let Some(exts) = entry.pax_extensions().map_err(UnpackError::Tar)? else {
            return Ok(());
        };
        for ext in exts {
            let ext = ext.map_err(UnpackError::Tar)?;
            let Some(name) = ext.key_bytes().strip_prefix(PAX_XATTR_PREFIX.as_bytes()) else {
                continue;
            };
            if let Err(e) = xattr::set(path, OsStr::from_bytes(name), ext.value_bytes()) {
                // As Docker: not every filesystem takes every namespace; keep going.
                match e.raw_os_error() {
                    Some(nix::libc::ENOTSUP) | Some(nix::libc::EPERM) => {
                        warn!(path = %path.display(), xattr = %String::from_utf8_lossy(name), error = %e, "ignoring xattr");
                    }
                    _ => return Err(UnpackError::io("setting xattr", path, e)),
                }
            }
        }
        Ok(())
    }

    /// Applies deferred directory mtimes, deepest first.
    fn finish(&mut self) {
        for (path, mtime) in self.dir_times.drain(..).rev() {
            if let Err(e) = set_mtime(&path, mtime) {
                // Wrong mtimes on dirs are cosmetic; do not fail the layer for them.
                debug!(path = %path.display(), error = %e, "setting directory mtime");
            }
        }
    }
}

fn set_mtime(path: &Path, mtime: u64) -> Result<(), UnpackError> {
    let t = TimeSpec::new(i64::try_from(mtime).unwrap_or(i64::MAX), 0);
    utimensat(None, path, &t, &t, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| UnpackError::io("setting mtime", path, e.into()))
}

fn device(h: &tar::Header) -> Result<u64, UnpackError> {
    let major = h.device_major().map_err(UnpackError::Tar)?.unwrap_or(0);
    let minor = h.device_minor().map_err(UnpackError::Tar)?.unwrap_or(0);
    Ok(makedev(u64::from(major), u64::from(minor)))
}

fn to_u32(v: u64) -> Result<u32, UnpackError> {
    u32::try_from(v)
        .map_err(|_| UnpackError::Tar(io::Error::other(format!("uid/gid {v} out of range"))))
}

#[cfg(test)]
mod tests;
