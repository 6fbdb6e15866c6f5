//! pouch-image: image references, registry pulls, the content store and overlay layer
//! unpacking. The daemon owns image metadata (SQLite); this crate keeps only files:
//!
//! * `root/content/blobs/sha256/<hex>`: every blob, verified by digest before it lands;
//! * `root/overlay2/<chain-id-hex>/diff`: each layer unpacked once, shared by all images,
//!   usable only once `root/overlay2/<chain-id-hex>/committed` exists.
#![deny(unsafe_code)]

pub mod error;
pub mod manifest;
pub mod progress;
/// References live in their own crate (the CLI uses them without the registry client).
pub use pouch_reference as reference;
mod registry;
mod service;
pub mod store;
pub mod unpack;

pub use error::{PullError, StoreError, UnpackError};
pub use progress::{Progress, ProgressDetail};
pub use reference::{is_image_id_prefix, AnyReference, Reference, ReferenceError};
pub use service::{chain_ids, GcStats, ImageService, LayerRef, PulledImage};
pub use store::LayerMarker;
