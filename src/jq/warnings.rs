//! Static checks for jq features that behave differently here than in Port's libjq 1.8 and
//! cannot be corrected around jaq; `lint` shows them next to the mapping.

use jaq_core::load::lex::{Lexer, StrPart, Tok, Token};

/// Uses of gaps that cannot be closed, one message per kind, in order of appearance.
pub fn compat_warnings(expr: &str) -> Vec<String> {
    let code = super::rewrite_single_quotes(expr);
    // jaq's lexer recurses once per bracket: programs too deep to compile have no warnings.
    if super::compile::program_depth(&code, super::compile::MAX_PROGRAM_DEPTH).is_err() {
        return Vec::new();
    }
    let Ok(tokens) = Lexer::new(code.as_ref()).lex() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    visit(&tokens, &mut out);
    out
}

fn push(out: &mut Vec<String>, msg: String) {
    if !out.contains(&msg) {
        out.push(msg);
    }
}

fn visit(tokens: &[Token<&str>], out: &mut Vec<String>) {
    for (i, t) in tokens.iter().enumerate() {
        match &t.1 {
            Tok::Word => match t.0 {
                "input" | "inputs" | "input_filename" | "halt" | "halt_error"
                | "get_search_list" | "modulemeta" | "import" | "include" => push(
                    out,
                    format!(
                        "`{}` is not available in a mapping (one input, no modules)",
                        t.0
                    ),
                ),
                "localtime" | "strflocaltime" => push(
                    out,
                    format!(
                        "`{}` uses this machine's time zone, Port's uses the integration's",
                        t.0
                    ),
                ),
                "env" => push(out, env_warning()),
                "catch"
                    if tokens
                        .get(i + 1)
                        .is_some_and(|n| matches!(n.1, Tok::Sym) && n.0.starts_with('.')) =>
                {
                    push(
                        out,
                        "caught error messages can be worded differently from jq's (paths, \
                         keys, type errors)"
                            .into(),
                    )
                }
                _ => {}
            },
            Tok::Var => match t.0 {
                "$ENV" => push(out, env_warning()),
                "$__prog_args" => push(out, "`$__prog_args` is not available in a mapping".into()),
                _ => {}
            },
            Tok::Num => {
                let digits =
                    t.0.bytes()
                        .take_while(|b| *b != b'e' && *b != b'E')
                        .filter(u8::is_ascii_digit)
                        .count();
                let big_int = t.0.bytes().all(|b| b.is_ascii_digit())
                    && t.0.parse::<u64>().map_or(true, |n| n > 1 << 53);
                if digits > 17 || big_int {
                    push(
                        out,
                        format!(
                            "number literal {} is computed as a double here; jq 1.8 keeps its exact decimal value",
                            t.0
                        ),
                    );
                }
            }
            Tok::Str(parts) => {
                let mut text = String::new();
                for p in parts {
                    match p {
                        StrPart::Str(s) => text.push_str(s),
                        StrPart::Char(c) => text.push(*c),
                        StrPart::Term(t) => visit(std::slice::from_ref(t), out),
                    }
                }
                regex_warnings(&text, out);
            }
            Tok::Block(inner) => visit(inner, out),
            Tok::Fmt | Tok::Sym => {}
        }
    }
}

fn env_warning() -> String {
    "`$ENV`/`env` expose only the variables named in the settings' allow-list (empty by default)"
        .into()
}

/// Oniguruma syntax that `fancy-regex` does not share.
fn regex_warnings(s: &str, out: &mut Vec<String>) {
    for (needle, what) in [
        ("\\K", "\\K (keep)"),
        ("\\h", "\\h (hex digit in Oniguruma)"),
        ("\\H", "\\H"),
        ("(?~", "the absent operator (?~…)"),
        ("\\R", "\\R (line break)"),
        ("\\X", "\\X (grapheme cluster)"),
    ] {
        if s.contains(needle) {
            push(
                out,
                format!("regex {what} is Oniguruma syntax the regex engine here lacks"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::compat_warnings;

    #[test]
    fn plain_mappings_have_no_warnings() {
        assert!(compat_warnings(".fields[\"System.Title\"] | gsub(\"\\\\s+\"; \"-\")").is_empty());
        assert!(compat_warnings("(.a / 2) | tostring").is_empty());
    }

    #[test]
    fn flags_environment_access() {
        let w = compat_warnings("$ENV.HOME, env.USER");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("allow-list"));
    }

    #[test]
    fn flags_big_number_literals() {
        let w = compat_warnings(". == 12345678901234567890");
        assert!(w[0].contains("12345678901234567890"), "{w:?}");
    }

    #[test]
    fn flags_inputs_and_local_time() {
        let w = compat_warnings("[inputs] | now | localtime");
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn flags_oniguruma_only_regex_syntax() {
        let w = compat_warnings("test(\"a\\\\Kb\")");
        assert!(w[0].contains("\\K"), "{w:?}");
    }

    #[test]
    fn flags_caught_error_messages() {
        let w = compat_warnings("try .a catch .");
        assert!(w[0].contains("worded differently"), "{w:?}");
        assert!(compat_warnings("try .a catch null").is_empty());
    }
}
