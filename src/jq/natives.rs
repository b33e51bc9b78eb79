//! Native filters registered with jaq: the budget guard, bounded generators, and natives
//! for jaq definitions on mappings' hot paths (`empty`, `select`, `null`, `true`, `false`,
//! `not`).

use jaq_core::ValT as _;
use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, v};
use jaq_core::{Bind, Error, Exn, Native};
use jaq_json::Val;
use jaq_std::ValT as _;

use super::budget::{self, BudgetError, Charged};

/// The data type programs run with.
pub(crate) type D = jaq_core::data::JustLut<Val>;

impl BudgetError for Exn<'_, Val> {
    fn budget(why: &'static str) -> Self {
        Exn::from(Error::str(why))
    }
}

/// jq's name for a value's type.
pub(crate) fn type_of(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::TStr(_) | Val::BStr(_) => "string",
        Val::Arr(_) => "array",
        Val::Obj(_) => "object",
    }
}

fn fun_arg() -> Box<[Bind]> {
    Box::new([Bind::Fun(())])
}

fn err<'a>(why: &'static str) -> jaq_core::ValXs<'a, Val> {
    box_once(Err(Exn::from(Error::str(why))))
}

/// `__guard(f)`: runs `f`, charging a step per call and per output.
fn guard() -> Fun<D> {
    let native = Native::new(|mut cv| {
        if let Err(why) = budget::charge(1) {
            return err(why);
        }
        let (f, fc) = cv.0.pop_fun();
        Box::new(Charged::new(f.run((fc, cv.1))))
    })
    .with_paths(|mut cv| {
        if let Err(why) = budget::charge(1) {
            return box_once(Err(Exn::from(Error::str(why))));
        }
        let (f, fc) = cv.0.pop_fun();
        Box::new(Charged::new(f.paths((fc, cv.1))))
    })
    .with_update(|mut cv, upd| {
        if let Err(why) = budget::charge(1) {
            return err(why);
        }
        let (f, fc) = cv.0.pop_fun();
        Box::new(Charged::new(f.update((fc, cv.1), upd)))
    });
    ("__guard", fun_arg(), native)
}

/// `range($from; $upto; $by)`, charging a step per output.
fn range() -> Fun<D> {
    ("range", v(3), Native::<D>::new(range_run))
}

fn range_run(mut cv: jaq_core::Cv<'_, D>) -> jaq_core::ValXs<'_, Val> {
    {
        let by = cv.0.pop_var();
        let upto = cv.0.pop_var();
        let from = cv.0.pop_var();
        let nums = (from.as_f64(), upto.as_f64(), by.as_f64());
        let (Some(from_f), Some(upto_f), Some(by_f)) = nums else {
            return box_once(Err(Exn::from(Error::str("Range bounds must be numeric"))));
        };
        let ints = [&from, &upto, &by].iter().all(|x| x.is_int());
        let mut cur = from.clone();
        let mut cur_f = from_f;
        let mut first = true;
        let mut done = false;
        Box::new(std::iter::from_fn(move || {
            if done {
                return None;
            }
            if !first {
                if ints {
                    cur = (cur.clone() + by.clone()).ok()?;
                    cur_f = cur.as_f64()?;
                } else {
                    cur_f += by_f;
                    cur = Val::from(cur_f);
                }
            }
            first = false;
            let more = (by_f > 0.0 && cur_f < upto_f) || (by_f < 0.0 && cur_f > upto_f);
            if !more {
                return None;
            }
            Some(match budget::charge(1) {
                Ok(()) => Ok(cur.clone()),
                Err(why) => {
                    done = true;
                    Err(Exn::from(Error::str(why)))
                }
            })
        }))
    }
}

/// `empty`: no output. jaq defines it as `{}[] as $x | .`, which builds and iterates an
/// empty object on every call; `select` calls it for every value it rejects.
fn empty() -> Fun<D> {
    let native = Native::<D>::new(|_| Box::new(std::iter::empty()))
        .with_paths(|_| Box::new(std::iter::empty()))
        // Updating no path leaves the value as it is.
        .with_update(|cv, _| box_once(Ok(cv.1)));
    ("empty", Box::new([]), native)
}

/// `select(f)`: the input once per truthy output of `f`, as jq's `if f then . else empty
/// end`, without a definition call, a conditional and an `empty` per value.
fn select() -> Fun<D> {
    let native = Native::<D>::new(|mut cv| {
        let (f, fc) = cv.0.pop_fun();
        let x = cv.1;
        Box::new(f.run((fc, x.clone())).filter_map(move |y| match y {
            Ok(y) => y.as_bool().then(|| Ok(x.clone())),
            Err(e) => Some(Err(e)),
        }))
    })
    .with_paths(|mut cv| {
        let (f, fc) = cv.0.pop_fun();
        let xp = cv.1;
        Box::new(f.run((fc, xp.0.clone())).filter_map(move |y| match y {
            Ok(y) => y.as_bool().then(|| Ok(xp.clone())),
            Err(e) => Some(Err(e)),
        }))
    })
    .with_update(|mut cv, upd| {
        // As jq's definition under `|=`: a `reduce` over `f`'s outputs that updates the
        // value once per truthy one.
        let (f, fc) = cv.0.pop_fun();
        let mut values = vec![cv.1.clone()];
        for y in f.run((fc, cv.1)) {
            match y {
                Ok(y) if y.as_bool() => {
                    let mut next = Vec::with_capacity(values.len());
                    for v in values {
                        for out in upd(v) {
                            match out {
                                Ok(out) => next.push(out),
                                Err(e) => return box_once(Err(e)),
                            }
                        }
                    }
                    values = next;
                }
                Ok(_) => {}
                Err(e) => return box_once(Err(e)),
            }
        }
        Box::new(values.into_iter().map(Ok))
    });
    ("select", fun_arg(), native)
}

/// `null`, `true`, `false` and `not`: jaq defines them in jq (`[][0]`, `0 == 0`, `0 != 0`,
/// `if . then false else true end`), so each `x != null` built and indexed an array.
/// Like those definitions, they are not path expressions: natives without paths fail
/// there with the same error.
fn constants() -> [Fun<D>; 4] {
    [
        (
            "null",
            Box::new([]),
            Native::new(|_| box_once(Ok(Val::Null))),
        ),
        (
            "true",
            Box::new([]),
            Native::new(|_| box_once(Ok(Val::Bool(true)))),
        ),
        (
            "false",
            Box::new([]),
            Native::new(|_| box_once(Ok(Val::Bool(false)))),
        ),
        (
            "not",
            Box::new([]),
            Native::new(|cv| box_once(Ok(Val::Bool(!cv.1.as_bool())))),
        ),
    ]
}

/// Natives added to or replacing jaq's.
pub(crate) fn funs() -> Vec<Fun<D>> {
    let mut funs = vec![guard(), range(), empty(), select()];
    funs.extend(constants());
    funs
}

/// jaq library definitions left out for natives of the same name here.
pub(crate) const NATIVE_DEFS: &[&str] = &["empty", "select", "null", "true", "false", "not"];

/// jaq natives that must not exist: `env` (reads the process environment), `stderr_empty`
/// (writes to stderr), `halt` (exits the process in jaq's CLI), and jaq's own regex natives
/// `matches`, `split_matches` and `split_` (they are not jq's, and their loops know nothing
/// of the budget; jq's regex builtins are the prelude's, over `regex`).
pub(crate) const REMOVED: &[&str] = &[
    "env",
    "stderr_empty",
    "halt",
    "matches",
    "split_matches",
    "split_",
];

/// jaq natives replaced by natives of the same name here, plus the removed ones.
pub(crate) const REPLACED: &[&str] = &[
    "range",
    "mktime",
    "env",
    "stderr_empty",
    "halt",
    "matches",
    "split_matches",
    "split_",
];
