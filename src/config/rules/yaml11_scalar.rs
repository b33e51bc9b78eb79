//! Lint rule `yaml11-scalar`: plain scalars that Port's YAML 1.1 parser reads differently.

use crate::config::diagnostic::{Rule, Severity};

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "yaml11-scalar",
    severity: Severity::Warning,
    docs: "A plain (unquoted) value that YAML 1.2 reads as a string or decimal number but PyYAML (YAML 1.1, used by Port's integration) reads as something else: `yes`/`no`/`on`/`off` are booleans there, `0755` is octal, `1_000` is 1000, `1:30` is sexagesimal, `<<` merges. Quote the value so both agree.",
};

/// What PyYAML would read a plain scalar as, when that differs from YAML 1.2.
pub fn pyyaml_reading(text: &str) -> Option<&'static str> {
    const BOOLS: [&str; 16] = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    // PyYAML's bool resolver does not take single letters; YAML 1.1's spec does. Flag both.
    if BOOLS.contains(&text) {
        return Some("a boolean");
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b < b'8')
    {
        return Some("an octal number");
    }
    if digits.contains('_')
        && digits.chars().next().is_some_and(|c| c.is_ascii_digit())
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '_' || c == '.')
    {
        return Some("a number with the underscores removed");
    }
    if digits.contains(':')
        && digits.chars().next().is_some_and(|c| c.is_ascii_digit())
        && digits.split(':').skip(1).all(|p| {
            !p.is_empty() && p.len() <= 2 && p.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
        && digits
            .split(':')
            .next()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
    {
        return Some("a base-60 number");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::pyyaml_reading;

    #[test]
    fn flags_what_pyyaml_reads_differently_and_nothing_else() {
        for t in ["yes", "No", "on", "OFF", "0755", "1_000", "1:30"] {
            assert!(pyyaml_reading(t).is_some(), "{t}");
        }
        for t in [
            "true",
            "0",
            "10",
            "0.5",
            "yesterday",
            "08",
            "12:3x",
            "a_b",
            ".x",
        ] {
            assert!(pyyaml_reading(t).is_none(), "{t}");
        }
    }
}
