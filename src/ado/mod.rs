//! Azure DevOps as a source of raw items: the REST client (auth, throttle, retry, paging),
//! one module per family of kinds, and snapshot record/replay.
//!
//! Every source returns a [`Listing`] per kind that says whether it is complete; nothing
//! here decides what to delete, it only never lets a partial list pass for a whole one.

pub mod client;
pub mod kinds;
pub mod org;
pub mod paging;
pub mod retry;
pub mod snapshot;
pub mod source;
pub mod throttle;

pub use client::{Call, Client, ClientOptions, Pat, Scope};
pub use kinds::{AdoSource, KINDS, SourceOptions};
pub use org::{OrgUrl, Service};
pub use snapshot::{Snapshot, SnapshotWriter};
pub use source::{Listing, Source};
