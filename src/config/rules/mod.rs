//! The lint rules: one file each, with its descriptor (code, severity, docs).
//!
//! Findings of the first group come from loading (YAML, schema, model); the rest from the
//! passes in `config::lint`. `ALL` lists every rule for `adoport lint --explain`.

pub mod coerced_value;
pub mod conflicting_flags;
pub mod deprecated_key;
pub mod duplicate_key;
pub mod empty_file;
pub mod file_prefix;
pub mod ignored_selector_option;
pub mod jq_compat;
pub mod jq_syntax;
pub mod not_a_mapping;
pub mod not_utf8;
pub mod required_property;
pub mod schema;
pub mod secret_env;
pub mod unknown_blueprint;
pub mod unknown_blueprint_field;
pub mod unknown_key;
pub mod unknown_kind;
pub mod unknown_selector_option;
pub mod unreadable;
pub mod yaml11_scalar;
pub mod yaml_syntax;

use super::diagnostic::Rule;

/// Every rule, in the order they are documented.
pub static ALL: &[&Rule] = &[
    &unreadable::RULE,
    &yaml_syntax::RULE,
    &duplicate_key::RULE,
    &empty_file::RULE,
    &not_utf8::RULE,
    &not_a_mapping::RULE,
    &schema::RULE,
    &unknown_key::RULE,
    &unknown_kind::RULE,
    &unknown_selector_option::RULE,
    &ignored_selector_option::RULE,
    &deprecated_key::RULE,
    &coerced_value::RULE,
    &conflicting_flags::RULE,
    &secret_env::RULE,
    &yaml11_scalar::RULE,
    &jq_syntax::RULE,
    &jq_compat::RULE,
    &file_prefix::RULE,
    &unknown_blueprint::RULE,
    &unknown_blueprint_field::RULE,
    &required_property::RULE,
];
