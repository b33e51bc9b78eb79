//! Keeps compilation cheap: only the library definitions a program can reach (by name,
//! transitively) are compiled with it, instead of all of jaq's and the prelude's.

use std::collections::HashSet;
use std::sync::OnceLock;

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{Def, Pattern, Term};
use jaq_core::path::Part;

/// Every library definition, parsed once: jaq's, then the prelude's (later ones shadow).
/// jaq definitions that use a removed native (`removed`), directly or through another
/// such definition, are left out: they would not compile. So are jaq's definitions of the
/// names in [`natives::NATIVE_DEFS`], which natives replace (a definition would shadow them).
///
/// [`natives::NATIVE_DEFS`]: super::natives::NATIVE_DEFS
pub(crate) fn library(
    prelude: &'static str,
    removed: &[&'static str],
) -> &'static [Def<&'static str>] {
    static DEFS: OnceLock<Vec<Def<&'static str>>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let mut gone: HashSet<String> = removed.iter().map(|n| (*n).to_owned()).collect();
        let mut jaq = Vec::new();
        for def in jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
        {
            let mut used = HashSet::new();
            names_in(&def.body, &mut used);
            if super::natives::NATIVE_DEFS.contains(&def.name) {
                continue;
            }
            if used.iter().any(|n| gone.contains(n)) {
                gone.insert(def.name.to_owned());
            } else {
                jaq.push(def);
            }
        }
        let ours = jaq_core::load::parse(prelude, |p| p.defs()).unwrap_or_default();
        jaq.into_iter().chain(ours).collect()
    })
}

/// The library definitions `code` can reach, in library order; `None` if `code` does not
/// parse (the caller then compiles with everything to get jaq's error).
pub(crate) fn reachable(
    code: &str,
    library: &'static [Def<&'static str>],
) -> Option<Vec<Def<&'static str>>> {
    let term = jaq_core::load::parse(code, |p| p.term())?;
    let mut names: HashSet<String> = HashSet::new();
    names_in(&term, &mut names);
    let mut keep = vec![false; library.len()];
    loop {
        let mut grew = false;
        for (i, def) in library.iter().enumerate() {
            if !keep[i] && names.contains(def.name) {
                keep[i] = true;
                grew = true;
                let mut inner = HashSet::new();
                names_in(&def.body, &mut inner);
                names.extend(inner);
            }
        }
        if !grew {
            break;
        }
    }
    Some(
        library
            .iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(d, _)| d.clone())
            .collect(),
    )
}

fn names_in<S: AsRef<str>>(t: &Term<S>, out: &mut HashSet<String>) {
    match t {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Var(_) | Term::Break(_) => {}
        Term::Str(fmt, parts) => {
            if let Some(f) = fmt {
                out.insert(f.as_ref().to_owned());
            }
            for p in parts {
                if let StrPart::Term(t) = p {
                    names_in(t, out);
                }
            }
        }
        Term::Arr(t) => {
            if let Some(t) = t {
                names_in(t, out);
            }
        }
        Term::Obj(kvs) => {
            for (k, v) in kvs {
                names_in(k, out);
                if let Some(v) = v {
                    names_in(v, out);
                }
            }
        }
        Term::Neg(t) | Term::Label(_, t) => names_in(t, out),
        Term::BinOp(l, _, r) => {
            names_in(l, out);
            names_in(r, out);
        }
        Term::Fold(_, xs, pat, args) => {
            names_in(xs, out);
            pattern_names(pat, out);
            for a in args {
                names_in(a, out);
            }
        }
        Term::TryCatch(t, c) => {
            names_in(t, out);
            if let Some(c) = c {
                names_in(c, out);
            }
        }
        Term::IfThenElse(branches, els) => {
            for (c, t) in branches {
                names_in(c, out);
                names_in(t, out);
            }
            if let Some(e) = els {
                names_in(e, out);
            }
        }
        Term::Def(defs, t) => {
            for d in defs {
                names_in(&d.body, out);
            }
            names_in(t, out);
        }
        Term::Call(name, args) => {
            out.insert(name.as_ref().to_owned());
            for a in args {
                names_in(a, out);
            }
        }
        Term::Path(base, path) => {
            names_in(base, out);
            for (part, _) in &path.0 {
                match part {
                    Part::Index(i) => names_in(i, out),
                    Part::Range(from, upto) => {
                        for x in [from, upto].into_iter().flatten() {
                            names_in(x, out);
                        }
                    }
                }
            }
        }
    }
}

fn pattern_names<S: AsRef<str>>(p: &Pattern<S>, out: &mut HashSet<String>) {
    match p {
        Pattern::Var(_) => {}
        Pattern::Arr(ps) => ps.iter().for_each(|p| pattern_names(p, out)),
        Pattern::Obj(kps) => {
            for (k, p) in kps {
                names_in(k, out);
                pattern_names(p, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_reachable_definitions() {
        let lib = library(
            super::super::compile::PRELUDE,
            super::super::natives::REMOVED,
        );
        let defs = reachable("map(. + 1) | first", lib).unwrap_or_default();
        let names: HashSet<&str> = defs.iter().map(|d| d.name).collect();
        assert!(names.contains("map") && names.contains("first"));
        assert!(!names.contains("gsub") && !names.contains("strftime"));
        assert!(
            defs.len() < lib.len() / 4,
            "{} of {}",
            defs.len(),
            lib.len()
        );
    }

    #[test]
    fn follows_definitions_transitively() {
        let lib = library(
            super::super::compile::PRELUDE,
            super::super::natives::REMOVED,
        );
        let defs = reachable("todate", lib).unwrap_or_default();
        let names: HashSet<&str> = defs.iter().map(|d| d.name).collect();
        assert!(
            names.contains("strftime") && names.contains("__is_bdt"),
            "{names:?}"
        );
    }
}
