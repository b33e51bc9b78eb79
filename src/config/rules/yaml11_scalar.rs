//! Lint rule `yaml11-scalar`: plain scalars that Port's YAML 1.1 parser reads differently.
//!
//! The YAML reader records each such scalar; [`findings`] words one finding per scalar with
//! a hint that works where it stands: a jq program needs jq text (`'"no"'`) or a jq value
//! (`'false'`), a boolean flag needs `true` or `false`, anything else is quoted.

use std::sync::Arc;

use serde_json::Value;

use crate::config::diagnostic::{Diagnostic, Rule, Severity};
use crate::config::schema;
use crate::config::yaml::YamlDoc;

/// The rule's descriptor.
pub static RULE: Rule = Rule {
    code: "yaml11-scalar",
    severity: Severity::Warning,
    docs: "A plain (unquoted) value that YAML 1.2 reads as a string or decimal number but PyYAML (YAML 1.1, used by Port's integration) reads as something else: `yes`/`no`/`on`/`off` are booleans there, `0755` is octal, `1_000` is 1000, `1:30` is sexagesimal, `<<` merges. Quote the value so both agree.",
};

/// One finding per scalar of `doc` that YAML 1.1 reads differently.
pub fn findings(doc: &YamlDoc, file: &Arc<str>) -> Vec<Diagnostic> {
    doc.yaml11
        .iter()
        .map(|(pointer, text, reading)| {
            let (message, help) = words(doc, pointer, text, reading);
            Diagnostic::new(&RULE, file, doc.span_at(pointer), message).with_help(help)
        })
        .collect()
}

/// The message and hint for the YAML 1.1 scalar at `pointer`, if there is one: the jq
/// pass uses them when that scalar is also a jq program that does not compile (`no`), so
/// the one problem gets one finding.
pub(crate) fn words_at(doc: &YamlDoc, pointer: &str) -> Option<(String, String)> {
    let (_, text, reading) = doc.yaml11.iter().find(|(p, _, _)| p == pointer)?;
    Some(words(doc, pointer, text, reading))
}

/// Where a scalar stands, which decides what a working fix looks like.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    /// A jq program: the selector's `query`, `itemsToParse`, or an entity mapping's field.
    Jq,
    /// A value the schema wants as a boolean (a top-level flag, a selector option).
    Boolean,
    /// Anything else.
    Other,
}

fn place(doc: &YamlDoc, pointer: &str) -> Place {
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    let jq = match parts.as_slice() {
        ["resources", i, "selector", "query"] | ["resources", i, "port", "itemsToParse"] => {
            i.parse::<usize>().is_ok()
        }
        ["resources", i, "port", "entity", "mappings", _, ..] => i.parse::<usize>().is_ok(),
        _ => false,
    };
    if jq {
        Place::Jq
    } else if schema::expects_boolean(&doc.value, pointer) {
        Place::Boolean
    } else {
        Place::Other
    }
}

/// The message and hint for `text` at `pointer`, which PyYAML reads as `reading`.
fn words(doc: &YamlDoc, pointer: &str, text: &str, reading: &str) -> (String, String) {
    let here = match doc.value.pointer(pointer) {
        Some(Value::Number(n)) => format!("the number {n}"),
        _ => "a string".to_string(),
    };
    let port = pyyaml_value(text);
    let reads = match &port {
        Some(v) => format!("{reading} ({v})"),
        None => reading.to_string(),
    };
    let message = format!("`{text}` is {here} here, but Port's YAML parser reads it as {reads}");
    let help = match (place(doc, pointer), &port) {
        (Place::Jq, Some(v)) => {
            let what = if v.is_boolean() { "boolean" } else { "number" };
            format!(
                "write `'\"{text}\"'` for the text \"{text}\", or `'{v}'` for the {what} Port reads: a mapping's value is a jq program"
            )
        }
        (Place::Jq, None) => {
            format!(
                "write `'\"{text}\"'` for the text \"{text}\": a mapping's value is a jq program"
            )
        }
        (Place::Boolean, Some(v @ Value::Bool(_))) => {
            return (
                format!("`{text}` means {v} only to YAML 1.1 parsers such as Port's"),
                format!("write `{v}`, which every YAML parser reads as a boolean"),
            );
        }
        (_, Some(v)) if here != "a string" => {
            format!(
                "write the number without its leading zero, or `{v}` if the octal number was meant"
            )
        }
        _ => format!("quote it (`'{text}'`) so both read the same"),
    };
    (message, help)
}

/// The value PyYAML gives a plain scalar that it reads differently, when it is a boolean or
/// a number.
fn pyyaml_value(text: &str) -> Option<Value> {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Some(Value::Bool(true)),
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Some(Value::Bool(false)),
        _ => {}
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.replace('_', "");
    let number = if digits.contains(':') {
        // Base 60: each part is a digit of the next place.
        let mut n: i64 = 0;
        for part in digits.split(':') {
            n = n.checked_mul(60)?.checked_add(part.parse().ok()?)?;
        }
        n
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits, 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(Value::from(if negative { -number } else { number }))
}

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
    use super::*;
    use crate::config::source::SourceFile;
    use crate::config::yaml::parse;

    fn hints(text: &str) -> Vec<(String, String)> {
        let file = SourceFile::new("t.yaml", text);
        let doc = parse(&file).unwrap();
        findings(&doc, &file.name)
            .into_iter()
            .map(|d| (d.message, d.help.unwrap_or_default()))
            .collect()
    }

    const RESOURCE: &str = "resources:\n  - kind: repository\n    selector:\n      query: 'true'\n    port:\n      entity:\n        mappings:\n          identifier: .id\n          blueprint: '\"service\"'\n          properties:\n";

    #[test]
    fn a_yaml11_boolean_in_a_jq_field_gets_a_hint_that_is_valid_jq() {
        let h = hints(&format!("{RESOURCE}            archived: no\n"));
        assert_eq!(
            h[0].0,
            "`no` is a string here, but Port's YAML parser reads it as a boolean (false)"
        );
        assert!(
            h[0].1
                .starts_with(r#"write `'"no"'` for the text "no", or `'false'`"#),
            "{}",
            h[0].1
        );
    }

    #[test]
    fn an_octal_looking_number_is_one_finding_that_says_what_each_parser_reads() {
        let h = hints(&format!("{RESOURCE}            mode: 0755\n"));
        assert_eq!(h.len(), 1);
        assert_eq!(
            h[0].0,
            "`0755` is the number 755 here, but Port's YAML parser reads it as an octal number (493)"
        );
        assert!(h[0].1.contains("`'493'`"), "{}", h[0].1);
    }

    #[test]
    fn a_boolean_flag_written_yes_is_told_to_write_true() {
        let h = hints(&format!("deleteDependentEntities: yes\n{RESOURCE}"));
        assert_eq!(
            h[0],
            (
                "`yes` means true only to YAML 1.1 parsers such as Port's".to_string(),
                "write `true`, which every YAML parser reads as a boolean".to_string()
            )
        );
    }

    #[test]
    fn a_yaml11_word_in_a_text_option_is_quoted() {
        let h = hints(&RESOURCE.replace("    port:\n", "    port:\n      itemsToParseName: on\n"));
        assert!(
            h.iter()
                .any(|(_, help)| help == "quote it (`'on'`) so both read the same"),
            "{h:?}"
        );
    }

    #[test]
    fn pyyaml_values_are_computed_as_pyyaml_does() {
        assert_eq!(pyyaml_value("0755"), Some(Value::from(493)));
        assert_eq!(pyyaml_value("-010"), Some(Value::from(-8)));
        assert_eq!(pyyaml_value("1_000"), Some(Value::from(1000)));
        assert_eq!(pyyaml_value("1:30"), Some(Value::from(90)));
        assert_eq!(pyyaml_value("Off"), Some(Value::Bool(false)));
        assert_eq!(pyyaml_value("<<"), None);
    }

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
