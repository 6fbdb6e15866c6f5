//! pouch-testkit: what several test suites build images from. Layer tars entry by entry
//! with fixed metadata, so the same content always gives the same blob and digest (pushing
//! a fixture again is a no-op for the registry), plus digests and deterministic gzip.
//! Test code only: it panics on I/O errors of in-memory buffers.
#![forbid(unsafe_code)]

use sha2::{Digest, Sha256};
use std::io::Write;

/// `sha256:<hex>` of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// gzip with mtime 0 and no name: the same tar always gives the same blob.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// Builds a layer tar entry by entry (root-owned, fixed mtime).
pub struct TarBuilder(tar::Builder<Vec<u8>>);

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TarBuilder {
    pub fn new() -> Self {
        TarBuilder(tar::Builder::new(Vec::new()))
    }

    fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    pub fn dir(mut self, path: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, 0, 0o755);
        self.0.append_data(&mut h, path, &[][..]).expect("dir");
        self
    }

    pub fn file(mut self, path: &str, data: &[u8], mode: u32) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, data.len() as u64, mode);
        self.0.append_data(&mut h, path, data).expect("file");
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0, 0o777);
        self.0.append_link(&mut h, path, target).expect("symlink");
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0, 0o644);
        self.0.append_link(&mut h, path, target).expect("hardlink");
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.0.into_inner().expect("tar")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_blob() {
        let a = TarBuilder::new().dir("d").file("d/f", b"x", 0o644).finish();
        let b = TarBuilder::new().dir("d").file("d/f", b"x", 0o644).finish();
        assert_eq!(sha256_digest(&a), sha256_digest(&b));
        assert_eq!(gzip(&a), gzip(&b));
        let c = TarBuilder::new().dir("d").file("d/f", b"y", 0o644).finish();
        assert_ne!(sha256_digest(&a), sha256_digest(&c));
    }
}
