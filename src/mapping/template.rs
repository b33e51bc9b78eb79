//! Templates: a direct evaluator for the small expressions mappings are mostly made of —
//! paths, string literals, `+`, `//`, `tostring` and `gsub` with a literal pattern — so an
//! item's mapping rarely needs its JSON converted for jaq at all.
//!
//! It only ever answers on the happy path, where jq's result is unambiguous: anything it
//! does not fully handle (an error, a number sum, a float to stringify, a regex) is a
//! [`None`], and the caller runs the real jq program instead. A differential test holds it
//! to the engine's results. jq semantics stay owned by [`crate::jq`].

use std::borrow::Cow;

use serde_json::Value;

/// A parsed template expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    /// `.a.b["c"][0]` (empty: `.`).
    Path(Vec<Seg>),
    /// A string, integer, boolean or null literal.
    Literal(Value),
    /// `a + b + …`
    Add(Vec<Template>),
    /// `a // b`
    Alt(Box<Template>, Box<Template>),
    /// `a | b | …`
    Pipe(Vec<Template>),
    /// `a == b` (`true`) or `a != b` (`false`)
    Eq(Box<Template>, Box<Template>, bool),
    /// `tostring`
    ToString,
    /// `gsub("literal"; "literal")`
    Gsub(String, String),
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(i64),
}

impl Template {
    /// Parses an expression (after Port's quote rewrite); `None` unless all of it is in the
    /// subset.
    pub(crate) fn parse(expr: &str) -> Option<Template> {
        let tokens = lex(expr)?;
        let mut p = Parser { tokens, at: 0 };
        let t = p.pipe()?;
        (p.at == p.tokens.len()).then_some(t)
    }

    /// The expression's only output on `input`, or `None` to defer to jq.
    pub(crate) fn eval<'a>(&'a self, input: &'a Value) -> Option<Cow<'a, Value>> {
        match self {
            Template::Path(segs) => path(segs, input),
            Template::Literal(v) => Some(Cow::Borrowed(v)),
            Template::Add(terms) => {
                let mut acc = terms.first()?.eval(input)?;
                for t in &terms[1..] {
                    let rhs = t.eval(input)?;
                    // jq adds through doubles: numbers (even `null + n`) are left to it.
                    if acc.is_number() || rhs.is_number() {
                        return None;
                    }
                    acc = match (acc, rhs) {
                        (a, b) if b.is_null() => a,
                        (a, b) if a.is_null() => b,
                        (a, b) => match (a.as_str(), b.as_str()) {
                            (Some(x), Some(y)) => {
                                let mut s = String::with_capacity(x.len() + y.len());
                                s.push_str(x);
                                s.push_str(y);
                                Cow::Owned(Value::String(s))
                            }
                            _ => return None,
                        },
                    };
                }
                Some(acc)
            }
            Template::Alt(a, b) => {
                let v = a.eval(input)?;
                if matches!(*v, Value::Null | Value::Bool(false)) {
                    b.eval(input)
                } else {
                    Some(v)
                }
            }
            Template::Pipe(stages) => {
                let mut v = stages.first()?.eval(input)?;
                for stage in &stages[1..] {
                    let next = stage.eval(&v)?.into_owned();
                    v = Cow::Owned(next);
                }
                Some(v)
            }
            Template::Eq(a, b, equal) => {
                let (x, y) = (a.eval(input)?, b.eval(input)?);
                // jq compares numbers by value (`1 == 1.0`): leave any number to it.
                if contains_number(&x) || contains_number(&y) {
                    return None;
                }
                Some(Cow::Owned(Value::Bool((*x == *y) == *equal)))
            }
            Template::ToString => match input {
                Value::String(_) => Some(Cow::Borrowed(input)),
                Value::Null => Some(Cow::Owned(Value::String("null".into()))),
                Value::Bool(b) => Some(Cow::Owned(Value::String(b.to_string()))),
                Value::Number(n) => {
                    // Only integers that doubles hold exactly print the same everywhere.
                    const EXACT: u64 = 1 << 53;
                    let text = match (n.as_u64(), n.as_i64()) {
                        (Some(u), _) if u <= EXACT => u.to_string(),
                        (_, Some(i)) if i.unsigned_abs() <= EXACT => i.to_string(),
                        _ => return None,
                    };
                    Some(Cow::Owned(Value::String(text)))
                }
                _ => None,
            },
            Template::Gsub(pattern, replacement) => match input {
                Value::String(s) => {
                    if s.contains(pattern.as_str()) {
                        Some(Cow::Owned(Value::String(s.replace(pattern, replacement))))
                    } else {
                        Some(Cow::Borrowed(input))
                    }
                }
                _ => None,
            },
        }
    }
}

fn contains_number(v: &Value) -> bool {
    match v {
        Value::Number(_) => true,
        Value::Array(a) => a.iter().any(contains_number),
        Value::Object(o) => o.values().any(contains_number),
        _ => false,
    }
}

fn path<'a>(segs: &[Seg], input: &'a Value) -> Option<Cow<'a, Value>> {
    let mut cur = input;
    for seg in segs {
        cur = match (cur, seg) {
            (Value::Null, _) => return Some(Cow::Owned(Value::Null)),
            (Value::Object(m), Seg::Key(k)) => match m.get(k) {
                Some(v) => v,
                None => return Some(Cow::Owned(Value::Null)),
            },
            (Value::Array(a), Seg::Index(i)) => {
                let len = i64::try_from(a.len()).ok()?;
                let idx = if *i < 0 { len + i } else { *i };
                match usize::try_from(idx).ok().and_then(|i| a.get(i)) {
                    Some(v) => v,
                    None => return Some(Cow::Owned(Value::Null)),
                }
            }
            // jq raises an error here: let jq word it.
            _ => return None,
        };
    }
    Some(Cow::Borrowed(cur))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Path(Vec<Seg>),
    Str(String),
    Int(i64),
    Ident(String),
    Open,
    Close,
    Pipe,
    Alt,
    Plus,
    Minus,
    Semi,
    EqEq,
    NotEq,
}

fn lex(e: &str) -> Option<Vec<Tok>> {
    let b = e.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(Tok::Open);
                i += 1;
            }
            b')' => {
                out.push(Tok::Close);
                i += 1;
            }
            b';' => {
                out.push(Tok::Semi);
                i += 1;
            }
            b'+' => {
                out.push(Tok::Plus);
                i += 1;
            }
            b'-' => {
                out.push(Tok::Minus);
                i += 1;
            }
            b'|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            b'=' if b.get(i + 1) == Some(&b'=') => {
                out.push(Tok::EqEq);
                i += 2;
            }
            b'!' if b.get(i + 1) == Some(&b'=') => {
                out.push(Tok::NotEq);
                i += 2;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                // `//=` is an update operator.
                if b.get(i + 2) == Some(&b'=') {
                    return None;
                }
                out.push(Tok::Alt);
                i += 2;
            }
            b'"' => {
                let (s, next) = string(e, i)?;
                out.push(Tok::Str(s));
                i = next;
            }
            b'0'..=b'9' => {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                // Floats and exponents are left to jq.
                if matches!(b.get(i), Some(b'.' | b'e' | b'E')) {
                    return None;
                }
                let n: i64 = e[start..i].parse().ok()?;
                // Beyond 2^53 jq keeps the literal's digits: leave those to it.
                if n > 1 << 53 {
                    return None;
                }
                out.push(Tok::Int(n));
            }
            b'.' => {
                let (segs, next) = path_token(e, i)?;
                out.push(Tok::Path(segs));
                i = next;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if b.get(i) == Some(&b':') {
                    return None;
                }
                out.push(Tok::Ident(e[start..i].to_owned()));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// A path starting at `.`: `.`, `.a`, `."a"`, `.["a"]`, `.[0]`, then more of those or
/// `["a"]`/`[0]`. Anything else after it (`[]`, `?`, `..`) is not a template.
fn path_token(e: &str, start: usize) -> Option<(Vec<Seg>, usize)> {
    let b = e.as_bytes();
    let mut i = start;
    let mut segs = Vec::new();
    let mut first = true;
    loop {
        match b.get(i) {
            Some(b'.') => {
                i += 1;
                match b.get(i) {
                    Some(b'"') => {
                        let (s, next) = string(e, i)?;
                        segs.push(Seg::Key(s));
                        i = next;
                    }
                    Some(b'[') => {
                        let (seg, next) = bracket(e, i)?;
                        segs.push(seg);
                        i = next;
                    }
                    Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
                        let s = i;
                        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                            i += 1;
                        }
                        segs.push(Seg::Key(e[s..i].to_owned()));
                    }
                    Some(b'.') => return None,
                    // A lone `.` (identity) only as the whole path.
                    _ if first => return Some((segs, i)),
                    _ => return None,
                }
            }
            Some(b'[') if !first => {
                let (seg, next) = bracket(e, i)?;
                segs.push(seg);
                i = next;
            }
            Some(b'?') => return None,
            _ => return Some((segs, i)),
        }
        first = false;
    }
}

fn bracket(e: &str, open: usize) -> Option<(Seg, usize)> {
    let b = e.as_bytes();
    let i = open + 1;
    match b.get(i)? {
        b'"' => {
            let (s, next) = string(e, i)?;
            (b.get(next) == Some(&b']')).then_some((Seg::Key(s), next + 1))
        }
        _ => {
            let close = i + e[i..].find(']')?;
            let text = &e[i..close];
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Some((Seg::Index(text.parse().ok()?), close + 1))
        }
    }
}

/// A string literal without interpolation, decoded as JSON.
fn string(e: &str, open: usize) -> Option<(String, usize)> {
    let b = e.as_bytes();
    let mut i = open + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                if b.get(i + 1) == Some(&b'(') {
                    return None;
                }
                i += 2;
            }
            b'"' => {
                let s: String = serde_json::from_str(&e[open..=i]).ok()?;
                return Some((s, i + 1));
            }
            _ => i += 1,
        }
    }
    None
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn pipe(&mut self) -> Option<Template> {
        let mut stages = vec![self.alt()?];
        while self.eat(&Tok::Pipe) {
            stages.push(self.alt()?);
        }
        Some(if stages.len() == 1 {
            stages.pop()?
        } else {
            Template::Pipe(stages)
        })
    }

    fn alt(&mut self) -> Option<Template> {
        let left = self.cmp()?;
        if self.eat(&Tok::Alt) {
            let right = self.alt()?;
            return Some(Template::Alt(Box::new(left), Box::new(right)));
        }
        Some(left)
    }

    /// Comparisons do not chain in jq.
    fn cmp(&mut self) -> Option<Template> {
        let left = self.add()?;
        let equal = match self.peek() {
            Some(Tok::EqEq) => true,
            Some(Tok::NotEq) => false,
            _ => return Some(left),
        };
        self.at += 1;
        let right = self.add()?;
        if matches!(self.peek(), Some(Tok::EqEq | Tok::NotEq)) {
            return None;
        }
        Some(Template::Eq(Box::new(left), Box::new(right), equal))
    }

    fn add(&mut self) -> Option<Template> {
        let mut terms = vec![self.term()?];
        while self.eat(&Tok::Plus) {
            terms.push(self.term()?);
        }
        Some(if terms.len() == 1 {
            terms.pop()?
        } else {
            Template::Add(terms)
        })
    }

    fn term(&mut self) -> Option<Template> {
        let tok = self.tokens.get(self.at)?.clone();
        self.at += 1;
        match tok {
            Tok::Path(segs) => Some(Template::Path(segs)),
            Tok::Str(s) => Some(Template::Literal(Value::String(s))),
            Tok::Int(n) => Some(Template::Literal(Value::from(n))),
            Tok::Minus => match self.tokens.get(self.at)? {
                Tok::Int(n) => {
                    let n = -*n;
                    self.at += 1;
                    Some(Template::Literal(Value::from(n)))
                }
                _ => None,
            },
            Tok::Open => {
                let inner = self.pipe()?;
                self.eat(&Tok::Close).then_some(inner)
            }
            Tok::Ident(name) => match name.as_str() {
                "null" => Some(Template::Literal(Value::Null)),
                "true" => Some(Template::Literal(Value::Bool(true))),
                "false" => Some(Template::Literal(Value::Bool(false))),
                "tostring" => Some(Template::ToString),
                "gsub" => {
                    if !self.eat(&Tok::Open) {
                        return None;
                    }
                    let Some(Tok::Str(pattern)) = self.tokens.get(self.at).cloned() else {
                        return None;
                    };
                    self.at += 1;
                    if !self.eat(&Tok::Semi) {
                        return None;
                    }
                    let Some(Tok::Str(replacement)) = self.tokens.get(self.at).cloned() else {
                        return None;
                    };
                    self.at += 1;
                    if !self.eat(&Tok::Close) || !is_literal_pattern(&pattern) {
                        return None;
                    }
                    Some(Template::Gsub(pattern, replacement))
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// A regex pattern that matches exactly its own text (no metacharacter, not empty).
fn is_literal_pattern(p: &str) -> bool {
    !p.is_empty()
        && p.chars().all(|c| {
            !matches!(
                c,
                '\\' | '^' | '$' | '.' | '|' | '?' | '*' | '+' | '(' | ')' | '[' | ']' | '{' | '}'
            ) && !c.is_control()
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::jq::{Engine, EngineOptions, Input};

    /// Expressions from Port's default mapping, and neighbours of them.
    const EXPRS: &[&str] = &[
        ".id | gsub(\" \"; \"\")",
        ".__project.id + \"/\" + (.id | tostring) | gsub(\" \"; \"\")",
        ".fields.\"System.Title\"",
        ".fields.\"Microsoft.VSTS.Scheduling.Effort\" // -1",
        ".fields.\"System.Description\" // \"\"",
        ".fields.\"System.CreatedBy\".displayName",
        ".__projectId | gsub(\" \"; \"\")",
        ".fields.\"System.WorkItemType\"+\"-\"+.fields.\"System.BoardColumn\"+\"-\"+.__project.id | gsub(\" \"; \"\")",
        ".url | gsub(\"_apis/projects/\"; \"\")",
        ".id | tostring | gsub(\" \"; \"\")",
        "(.id | tostring) | gsub(\" \"; \"\")",
        ".__stateType + \"/\" +.name+ \"/\"+.__board.__project.id | gsub(\" \"; \"\")",
        ".projectReference.id + \"/\" + (.id | tostring) | gsub(\" \"; \"\")",
        ".a[0] // .b[\"c\"] // null",
        ".a[-1]",
        ".n | tostring",
        ".a + .b",
        ".s + .n",
        ".flag // \"x\"",
        ".",
        "true",
        "\"é \" + .s",
        ".s | gsub(\"é\"; \"e\")",
        ".fields.\"System.WorkItemType\" != \"Bug\"",
        ".type.displayName==\"Minimum number of reviewers\"",
        ".s == null",
        ".a == .b",
        ".flag == false // \"x\"",
        ".s + \"x\" == \"s éx\" | tostring",
        ".n == 12",
        ".b == .a",
    ];

    fn inputs() -> Vec<Value> {
        vec![
            json!({"id": " a b ", "__project": {"id": "p 1"}, "__projectId": "p 1", "url": "https://x/_apis/projects/1",
                   "fields": {"System.Title": "T", "Microsoft.VSTS.Scheduling.Effort": 0, "System.Description": "",
                              "System.CreatedBy": {"displayName": "Zoë"}, "System.WorkItemType": "User Story", "System.BoardColumn": "In Progress"},
                   "a": [1, 2], "b": {"c": false}, "n": 12, "s": "s é", "flag": false}),
            json!({"id": 18, "__project": null, "fields": null, "a": "str", "b": 3, "n": 1.5, "s": null, "flag": true,
                   "projectReference": {"id": "x y"}, "__stateType": "Epic", "name": "To Do", "__board": {"__project": {"id": "b"}}}),
            json!({"id": -9007199254740993i64, "n": 12345678901234567890u64, "__projectId": 5, "url": 1, "fields": {"System.Title": ["t"], "Microsoft.VSTS.Scheduling.Effort": null}}),
            json!({"id": null, "fields": {"System.WorkItemType": 1, "System.BoardColumn": "c"}, "a": [], "b": null, "n": true, "s": "x"}),
            json!([1, 2]),
            json!("top"),
            Value::Null,
        ]
    }

    #[test]
    fn templates_agree_with_the_engine_wherever_they_answer() {
        let engine = Engine::new(EngineOptions::default());
        let mut answered = 0;
        for expr in EXPRS {
            let t = Template::parse(expr).unwrap_or_else(|| panic!("{expr} is a template"));
            let program = engine.compile(expr).expect("compiles");
            for input in inputs() {
                if let Some(v) = t.eval(&input) {
                    answered += 1;
                    let want = program.first(&Input::new(&input));
                    assert_eq!(Ok(Some(v.into_owned())), want, "{expr} on {input}");
                }
            }
        }
        assert!(answered > 60, "templates answered {answered} times");
    }

    /// Scalars and small objects under the keys the expressions read.
    fn arb_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("id"),
            Just("a"),
            Just("b"),
            Just("c"),
            Just("n"),
            Just("s"),
            Just("flag"),
            Just("fields"),
            Just("__project"),
            Just("System.Title"),
            Just("System.WorkItemType"),
            Just("System.BoardColumn"),
            Just("displayName"),
            Just("type"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(Value::from),
            (-1e6f64..1e6).prop_map(Value::from),
            "[ a-zé/_\\-]{0,6}".prop_map(Value::String),
            Just(Value::String("Minimum number of reviewers".into())),
        ];
        leaf.prop_recursive(3, 24, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..6).prop_map(|kv| {
                    Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn templates_agree_with_the_engine_on_random_items(input in arb_value()) {
            let engine = Engine::new(EngineOptions::default());
            for expr in EXPRS {
                let Some(t) = Template::parse(expr) else { continue };
                if let Some(v) = t.eval(&input) {
                    let want = engine.compile(expr).expect("compiles").first(&Input::new(&input));
                    proptest::prop_assert_eq!(Ok(Some(v.into_owned())), want, "{} on {}", expr, input);
                }
            }
        }
    }

    #[test]
    fn the_default_work_item_mapping_is_all_templates_on_a_work_item() {
        let item = &inputs()[0];
        for expr in EXPRS.iter().take(9) {
            let t = Template::parse(expr).expect("a template");
            assert!(t.eval(item).is_some(), "{expr}");
        }
    }

    #[test]
    fn expressions_outside_the_subset_are_not_templates() {
        for expr in [
            ".a[]",
            ".a?",
            "..",
            ".a - 1",
            ".a, .b",
            ".a | ascii_downcase",
            "gsub(\"a.\"; \"\")",
            "gsub(\"\"; \"x\")",
            "\"\\(.a)\"",
            "1.5",
            ".a // .b |= 1",
            "if .a then 1 else 2 end",
            ".a as $x | $x",
            "map(.a)",
            "(.a",
            ".a .b",
            ".a == .b == .c",
            ".a = 1",
            ".a < 1",
        ] {
            assert_eq!(Template::parse(expr), None, "{expr}");
        }
    }
}
