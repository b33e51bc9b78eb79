//! Loading a config repository: YAML with source spans, JSON Schema validation, the typed
//! model, and lint diagnostics.
//!
//! `files` reads a folder (or one file) and `git` a revision, refusing files that are unsafe
//! to read; `location` names either. `load` builds the files into every finding plus the
//! model when nothing is an error. `lint` adds the passes that need more than the file
//! itself (jq compilation, blueprints). `render` turns findings into rustc-style text or JSON.

mod build;
pub mod diagnostic;
pub mod diff;
pub mod files;
pub mod git;
pub mod kinds;
pub mod lint;
mod load;
pub mod location;
pub mod model;
pub mod render;
pub mod rules;
pub mod schema;
pub mod settings;
pub mod source;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use files::{
    BLUEPRINTS_DIR, ConfigFiles, Error, MAPPING_FILE, MAPPINGS_DIR, MAX_FILE_BYTES, Refusal,
    Result, read_files,
};
pub use load::{Loaded, build_config, load};
pub use location::ConfigSource;
pub use model::{
    Config, EntityMappings, Field, Jq, Mapping, Origin, Resource, Rule, SearchQuery, Selector,
};
pub use settings::Settings;
