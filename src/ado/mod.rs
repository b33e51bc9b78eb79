//! Azure DevOps as a source of raw items: the REST client (auth, throttle, retry, paging),
//! one module per family of kinds, and snapshot record/replay.
//!
//! Every source returns a [`Listing`] per kind that says whether it is complete; nothing
//! here decides what to delete, it only never lets a partial list pass for a whole one.
//!
//! | module | owns |
//! |---|---|
//! | [`source`] | [`Listing`] (with its [`Incomplete`] cause) and the [`Source`] trait every source implements |
//! | [`locate`] | reading some items again: locators, scopes, item keys, reads |
//! | [`org`] | organization URL forms and the service hosts derived from them |
//! | [`orgs`] | several organizations read as one source, each one's share of a listing kept apart |
//! | [`client`] | one client per organization: PAT or bearer auth, concurrency bound, body caps, per-request debug log |
//! | [`entra`] | Entra ID service-principal tokens for Azure DevOps, shared by every organization's client |
//! | [`error`] | the typed errors of a call (naming the PAT scope, keeping a 404's ADO error key) |
//! | [`throttle`] | the shared per-organization pacing from `X-RateLimit-*` (`-Delay` included) and `Retry-After` |
//! | [`retry`] | the one retry policy (what is retried, capped jittered backoff) |
//! | [`paging`] | continuation-token and `$top`/`$skip` paging, to the end or reported cut short (never endless) |
//! | [`kinds`] | one module per kind, the [`KINDS`] registry, [`AdoSource`] and the shared parent lists |
//! | [`snapshot`] | `manifest.json` + `KIND.jsonl` record and replay |
//! | [`record`] | fetch the kinds a mapping uses and record them (`adoport fetch`) |
//!
//! Page sizes: the largest each endpoint accepts, noted beside each kind (`PAGE` constants):
//! 1,000 for refs (ADO's documented maximum) and for lists with no documented maximum that a
//! continuation token or an empty page ends anyway; 100 for classic releases, release
//! definitions and release deployments (the release service's cap); 1,000 test results
//! (ADO's documented maximum); none for pipeline runs (the list takes no page size and
//! returns at most 10,000); 20,000 ids per WIQL query and 200 ids per work-item batch
//! (ADO's caps).

pub mod client;
pub mod entra;
pub mod error;
pub mod kinds;
pub mod locate;
pub mod org;
pub mod orgs;
pub mod paging;
pub mod record;
pub mod retry;
pub mod snapshot;
pub mod source;
pub mod throttle;

pub use client::{Call, Client, ClientOptions, Credential, Pat, Scope};
pub use entra::{ServicePrincipal, ServicePrincipalConfig};
pub use kinds::{AdoSource, COMMON_IGNORED_OPTIONS, KINDS, SourceOptions};
pub use locate::{Locator, ProjectRef, Read, Target};
pub use org::{OrgUrl, Service};
pub use snapshot::{Snapshot, SnapshotWriter};
pub use source::{Incomplete, Listing, Organization, Part, Source};
