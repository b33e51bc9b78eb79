//! Path patterns of the `file` and `folder` kinds: `{a,b}` braces expanded, globs told from
//! literal paths, each pattern's static prefix and the listing depth it needs, and matching.
//!
//! Port's integration matches files with `wcmatch` (`GLOBSTAR | IGNORECASE | DOTGLOB`, no
//! brace expansion) and folders with `fnmatch` plus an equal-depth check. Here both use one
//! matcher (`globset`): `*`, `?` and `[...]` stay within one path segment, `**` spans any
//! number of them, a leading dot needs no special pattern, `\` escapes. Braces are expanded
//! before anything else (Port leaves them literal), so `{src,lib}/**/*.yaml` lists `/src`
//! and `/lib`, not the whole repository.
//!
//! A pattern is listed from its static prefix (the segments before the first one holding a
//! glob character) with the depth its remaining segments need: none for a literal path,
//! one level when only the last segment is a glob, the full subtree otherwise. Port lists
//! one level below the prefix whatever follows, so its `src/*/docs` never matches.

use globset::{GlobBuilder, GlobMatcher};

/// The most patterns one written pattern may expand to: braces multiply (`{a,b}{c,d}` is
/// four), and a mistaken pattern must not turn into millions of listings.
pub(crate) const MAX_EXPANSIONS: usize = 256;

/// The longest pattern taken (a path is at most a few hundred characters; scanning for
/// braces is quadratic in the worst case).
pub(crate) const MAX_PATTERN_LEN: usize = 4096;

/// A pattern that cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// It is longer than [`MAX_PATTERN_LEN`].
    #[error("a pattern of {len} characters is longer than {MAX_PATTERN_LEN}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// Its braces expand to too many patterns.
    #[error("`{pattern}` expands to more than {MAX_EXPANSIONS} paths")]
    TooManyExpansions {
        /// The pattern as written.
        pattern: String,
    },
    /// It is not a glob `globset` accepts (an unclosed `[`, for example).
    #[error("`{pattern}` is not a valid glob")]
    Invalid {
        /// The pattern after brace expansion.
        pattern: String,
        /// The matcher's complaint.
        #[source]
        source: globset::Error,
    },
}

/// How deep a listing goes below its scope path: ADO's `recursionLevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Depth {
    /// The item itself.
    None,
    /// The item and its direct children.
    OneLevel,
    /// The item and everything below it.
    Full,
}

impl Depth {
    /// The value ADO's `recursionLevel` takes.
    pub(crate) fn param(self) -> &'static str {
        match self {
            Depth::None => "none",
            Depth::OneLevel => "oneLevel",
            Depth::Full => "full",
        }
    }
}

/// One pattern after brace expansion, ready to list and match.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    /// The pattern with its outer slashes removed (`src/*/docs`).
    pub(crate) text: String,
    /// The static prefix as an ADO path: `/` or `/src/a`.
    pub(crate) base: String,
    /// How deep below `base` the pattern reaches.
    pub(crate) depth: Depth,
    matcher: GlobMatcher,
}

impl Pattern {
    /// Whether a repository-relative path (with or without its leading `/`) matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.matcher.is_match(path.trim_matches('/'))
    }

    /// Whether the pattern names one path (no glob character): it is read, not listed.
    pub(crate) fn is_literal(&self) -> bool {
        self.depth == Depth::None
    }
}

/// Expands `written` (braces) and compiles each result; `ignore_case` as the kind matches.
pub(crate) fn compile(written: &str, ignore_case: bool) -> Result<Vec<Pattern>, Error> {
    if written.len() > MAX_PATTERN_LEN {
        return Err(Error::TooLong { len: written.len() });
    }
    let mut expanded = Vec::new();
    expand(written, &mut expanded).map_err(|()| Error::TooManyExpansions {
        pattern: written.to_owned(),
    })?;
    let mut out: Vec<Pattern> = Vec::with_capacity(expanded.len());
    for text in expanded {
        let pattern = one(&text, ignore_case)?;
        if !out.iter().any(|p| p.text == pattern.text) {
            out.push(pattern);
        }
    }
    Ok(out)
}

fn one(expanded: &str, ignore_case: bool) -> Result<Pattern, Error> {
    let text = expanded.trim_matches('/').to_owned();
    let segments: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split('/').collect()
    };
    let fixed = segments.iter().take_while(|s| !has_glob(s)).count();
    let rest = &segments[fixed..];
    let depth = match rest {
        [] => Depth::None,
        [last] if !last.contains("**") => Depth::OneLevel,
        _ => Depth::Full,
    };
    let base = format!(
        "/{}",
        segments[..fixed]
            .iter()
            .map(|s| unescape(s))
            .collect::<Vec<_>>()
            .join("/")
    );
    let matcher = GlobBuilder::new(&literal_braces(&text))
        .literal_separator(true)
        .backslash_escape(true)
        .case_insensitive(ignore_case)
        .build()
        .map_err(|source| Error::Invalid {
            pattern: text.clone(),
            source,
        })?
        .compile_matcher();
    Ok(Pattern {
        text,
        base,
        depth,
        matcher,
    })
}

/// Whether a segment holds an unescaped glob character (`*`, `?`, `[`).
fn has_glob(segment: &str) -> bool {
    let mut escaped = false;
    for c in segment.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// A literal segment as ADO names it: `\x` is `x`.
fn unescape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut escaped = false;
    for c in segment.chars() {
        if c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// Braces left after expansion (`{a}`, an unclosed `{`) are literal, as in Port's matcher:
/// escape them so `globset` does not read them as alternatives.
fn literal_braces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut escaped = false;
    for c in text.chars() {
        if !escaped && (c == '{' || c == '}') {
            out.push('\\');
        }
        escaped = c == '\\' && !escaped;
        out.push(c);
    }
    out
}

/// Brace expansion as a shell does it: the first `{…}` with a top-level comma becomes one
/// pattern per alternative (nested braces included, `\` escapes); `{a}` stays as written.
/// `Err` when more than [`MAX_EXPANSIONS`] patterns would result.
fn expand(pattern: &str, out: &mut Vec<String>) -> Result<(), ()> {
    expand_at(pattern, out, 0)
}

/// Each level expands a group of two or more alternatives, so `depth` levels mean more than
/// `depth` patterns: deeper than the limit is refused before recursing further.
fn expand_at(pattern: &str, out: &mut Vec<String>, depth: usize) -> Result<(), ()> {
    if depth > MAX_EXPANSIONS {
        return Err(());
    }
    match first_group(pattern) {
        None => {
            if out.len() >= MAX_EXPANSIONS {
                return Err(());
            }
            out.push(pattern.to_owned());
            Ok(())
        }
        Some((open, close, commas)) => {
            let inner = open + 1;
            let mut cuts = vec![inner];
            cuts.extend(commas.iter().map(|c| c + 1));
            let ends: Vec<usize> = commas.iter().copied().chain([close]).collect();
            for (start, end) in cuts.into_iter().zip(ends) {
                let next = format!(
                    "{}{}{}",
                    &pattern[..open],
                    &pattern[start..end],
                    &pattern[close + 1..]
                );
                expand_at(&next, out, depth + 1)?;
            }
            Ok(())
        }
    }
}

/// The first brace group with a top-level comma: its `{`, its `}` and the commas' offsets.
fn first_group(pattern: &str) -> Option<(usize, usize, Vec<usize>)> {
    let bytes = pattern.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'{' => {
                if let Some((close, commas)) = group_at(bytes, i)
                    && !commas.is_empty()
                {
                    return Some((i, close, commas));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The `}` matching the `{` at `open`, and the commas directly inside it.
fn group_at(bytes: &[u8], open: usize) -> Option<(usize, Vec<usize>)> {
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((i, commas));
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The listings that cover every pattern: one per static prefix, at the deepest depth any
/// pattern there needs, leaving out a prefix a full listing above it already covers.
pub(crate) fn listings<'a>(
    patterns: impl IntoIterator<Item = &'a Pattern>,
) -> Vec<(String, Depth)> {
    let mut wanted: Vec<(String, Depth)> = Vec::new();
    for p in patterns {
        match wanted.iter_mut().find(|(base, _)| *base == p.base) {
            Some((_, depth)) => *depth = (*depth).max(p.depth),
            None => wanted.push((p.base.clone(), p.depth)),
        }
    }
    // Shallow prefixes first, so a full listing is chosen before what it covers.
    wanted.sort_by(|a, b| {
        a.0.matches('/')
            .count()
            .cmp(&b.0.matches('/').count())
            .then(b.1.cmp(&a.1))
            .then(a.0.cmp(&b.0))
    });
    let mut chosen: Vec<(String, Depth)> = Vec::new();
    for (base, depth) in wanted {
        if !chosen.iter().any(|(b, d)| covers(b, *d, &base, depth)) {
            chosen.push((base, depth));
        }
    }
    chosen
}

/// Whether listing `base` at `depth` returns everything a listing of `inner` at `need` does.
fn covers(base: &str, depth: Depth, inner: &str, need: Depth) -> bool {
    if base == inner {
        return depth >= need;
    }
    let prefix = if base == "/" {
        "/".to_owned()
    } else {
        format!("{base}/")
    };
    let Some(below) = inner.strip_prefix(&prefix) else {
        return false;
    };
    match depth {
        Depth::Full => true,
        Depth::OneLevel => need == Depth::None && !below.contains('/'),
        Depth::None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(written: &str) -> Vec<String> {
        compile(written, true)
            .unwrap()
            .into_iter()
            .map(|p| p.text)
            .collect()
    }

    #[test]
    fn braces_expand_nested_and_escaped_ones_stay() {
        assert_eq!(
            texts("{a,b}/x.{yml,yaml}"),
            ["a/x.yml", "a/x.yaml", "b/x.yml", "b/x.yaml"]
        );
        assert_eq!(texts("{a,{b,c}d}"), ["a", "bd", "cd"]);
        assert_eq!(texts("x{,.bak}"), ["x", "x.bak"]);
        assert_eq!(texts(r"a\{b,c\}"), [r"a\{b,c\}"]);
        assert_eq!(texts("{a}"), ["{a}"]);
        assert!(compile("{a}", true).unwrap()[0].matches("{a}"));
    }

    #[test]
    fn a_pattern_that_multiplies_past_the_limit_is_refused() {
        let bomb = "{a,b}".repeat(9);
        assert!(matches!(
            compile(&bomb, true),
            Err(Error::TooManyExpansions { .. })
        ));
        assert_eq!(compile(&"{a,b}".repeat(8), true).unwrap().len(), 256);
        let deep = format!("{}{}", "{a,".repeat(400), "}".repeat(400));
        assert!(matches!(
            compile(&deep, true),
            Err(Error::TooManyExpansions { .. })
        ));
        assert!(matches!(
            compile(&"{".repeat(5000), true),
            Err(Error::TooLong { .. })
        ));
    }

    #[test]
    fn the_static_prefix_and_depth_follow_the_first_glob_segment() {
        let at = |w: &str| {
            let p = &compile(w, true).unwrap()[0];
            (p.base.clone(), p.depth)
        };
        assert_eq!(at("/package.json"), ("/package.json".into(), Depth::None));
        assert_eq!(at("src/*.rs"), ("/src".into(), Depth::OneLevel));
        assert_eq!(at("src/*/docs"), ("/src".into(), Depth::Full));
        assert_eq!(at("**/values.yaml"), ("/".into(), Depth::Full));
        assert_eq!(at("charts/**"), ("/charts".into(), Depth::Full));
        assert_eq!(at(r"a\*b/c?"), ("/a*b".into(), Depth::OneLevel));
        assert_eq!(at("measure/"), ("/measure".into(), Depth::None));
    }

    #[test]
    fn matching_keeps_single_stars_within_a_segment() {
        let p = &compile("src/*/docs", false).unwrap()[0];
        assert!(p.matches("/src/a/docs"));
        assert!(!p.matches("src/a/b/docs"));
        assert!(!p.matches("SRC/a/docs"), "case-sensitive when asked");
        let any = &compile("**/catalog-info.yaml", true).unwrap()[0];
        assert!(any.matches("catalog-info.yaml"));
        assert!(any.matches("/services/x/Catalog-Info.YAML"));
        let dot = &compile("*.yml", true).unwrap()[0];
        assert!(
            dot.matches(".gitlab-ci.yml"),
            "a leading dot needs no pattern of its own"
        );
        assert!(compile("[ab", true).is_err());
    }

    #[test]
    fn a_full_listing_covers_what_lies_below_it() {
        let patterns: Vec<Pattern> = ["src/**/*.md", "src/a/*.md", "docs/*", "docs/x", "a/b"]
            .iter()
            .flat_map(|w| compile(w, true).unwrap())
            .collect();
        assert_eq!(
            listings(&patterns),
            [
                ("/src".to_owned(), Depth::Full),
                ("/docs".to_owned(), Depth::OneLevel),
                ("/a/b".to_owned(), Depth::None),
            ]
        );
    }
}
