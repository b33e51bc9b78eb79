//! Azure DevOps as a source of raw items: the REST client (auth, throttle, retry, paging),
//! one module per family of kinds, and snapshot record/replay.
//!
//! Every source returns a [`Listing`] per kind that says whether it is complete; nothing
//! here decides what to delete, it only never lets a partial list pass for a whole one.

pub mod snapshot;
pub mod source;

pub use snapshot::{Snapshot, SnapshotWriter};
pub use source::{Listing, Source};
