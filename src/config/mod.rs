//! Loading a config repository: YAML with source spans, JSON Schema validation, the typed
//! model, and lint diagnostics.
//!
//! `load` reads a folder (or one file; `git` reads a revision, `location` names either) and returns every finding plus the model when
//! nothing is an error. `lint` adds the passes that need more than the file itself (jq
//! compilation, blueprints). `render` turns findings into rustc-style text or JSON.

mod build;
pub mod diagnostic;
pub mod diff;
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
pub use load::{
    BLUEPRINTS_DIR, ConfigFiles, Error, Loaded, MAPPING_FILE, MAPPINGS_DIR, Result, build_config,
    load, read_files,
};
pub use location::ConfigSource;
pub use model::{
    Config, EntityMappings, Field, Jq, Mapping, Origin, Resource, Rule, SearchQuery, Selector,
};
pub use settings::Settings;
