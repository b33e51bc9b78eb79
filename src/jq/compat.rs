//! Natives with jq 1.8 semantics where jaq's differ: arithmetic (division by zero, string
//! repetition, doubles, size limits), `tonumber`, negation, `split/1`, `join`, indexing and
//! slicing, and jq's wording of jaq's errors. jq's text of values (`tostring`, `tojson`,
//! values in messages) is `text`'s.

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Error, Exn, Native, ValT as _, ValXs};
use jaq_json::Val;
use jaq_std::ValT as _;

use super::budget;
use super::convert::{MAX_DEPTH, too_deep};
use super::natives::{D, type_of};
pub(crate) use super::text::{describe, to_json};

pub(crate) fn fail<'a>(msg: impl Into<String>) -> ValXs<'a, Val> {
    box_once(Err(Exn::from(Error::str(msg.into()))))
}

pub(crate) fn ok<'a>(v: Val) -> ValXs<'a, Val> {
    box_once(Ok(v))
}

/// Why a constructed value is refused.
enum Refused {
    TooLarge,
    TooDeep,
    Budget(&'static str),
}

/// Checks a constructed value's approximate JSON size against `cap` and its nesting against
/// [`MAX_DEPTH`], walking it without recursion (and no further than `cap`).
fn check_built(v: &Val, cap: usize) -> Result<(), Refused> {
    let mut total = 0usize;
    let mut stack = vec![(v, 0usize)];
    let mut seen = 0u32;
    while let Some((v, depth)) = stack.pop() {
        total += match v {
            Val::Null | Val::Bool(_) => 5,
            Val::Num(_) => 8,
            Val::TStr(s) | Val::BStr(s) => s.len() + 2,
            Val::Arr(a) => {
                if depth >= MAX_DEPTH {
                    return Err(Refused::TooDeep);
                }
                stack.extend(a.iter().map(|x| (x, depth + 1)));
                2 + a.len()
            }
            Val::Obj(o) => {
                if depth >= MAX_DEPTH {
                    return Err(Refused::TooDeep);
                }
                for (k, x) in o.iter() {
                    stack.push((k, depth + 1));
                    stack.push((x, depth + 1));
                }
                2 + 2 * o.len()
            }
        };
        if total > cap {
            return Err(Refused::TooLarge);
        }
        // A value shared many times over can be large to walk: keep an eye on the clock.
        seen = seen.wrapping_add(1);
        if seen.is_multiple_of(4096) {
            budget::charge_timed(0).map_err(Refused::Budget)?;
        }
    }
    Ok(())
}

/// `__sized`: fails when a constructed array or object exceeds the output size limit or
/// nests deeper than [`MAX_DEPTH`].
fn sized(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    match check_built(&cv.1, budget::max_bytes()) {
        Ok(()) => ok(cv.1),
        Err(Refused::TooLarge) => fail(budget::OUTPUT),
        Err(Refused::TooDeep) => fail(too_deep("value")),
        Err(Refused::Budget(why)) => fail(why),
    }
}

fn check_size(len: usize) -> Result<(), Exn<'static, Val>> {
    if len > budget::max_bytes() {
        return Err(Exn::from(Error::str(budget::OUTPUT)));
    }
    Ok(())
}

fn math_error(l: &Val, r: &Val, what: &str) -> String {
    format!("{} and {} cannot be {what}", describe(l), describe(r))
}

/// jq computes in doubles: an integer result beyond 2^53 is rounded like one.
fn as_double(v: Val) -> Val {
    const EXACT: isize = 1 << 53;
    match &v {
        Val::Num(jaq_json::Num::Int(i)) if (-EXACT..=EXACT).contains(i) => v,
        Val::Num(_) => v.as_f64().map_or(v, Val::from),
        _ => v,
    }
}

/// Whether both are numbers and one is not an integer jq holds exactly: jq then computes
/// with doubles.
fn needs_double(l: &Val, r: &Val) -> bool {
    const EXACT: isize = 1 << 53;
    let small =
        |v: &Val| matches!(v, Val::Num(jaq_json::Num::Int(i)) if (-EXACT..=EXACT).contains(i));
    matches!((l, r), (Val::Num(_), Val::Num(_))) && (!small(l) || !small(r))
}

fn double_op(l: &Val, r: &Val, op: fn(f64, f64) -> f64) -> Val {
    Val::from(op(
        l.as_f64().unwrap_or(f64::NAN),
        r.as_f64().unwrap_or(f64::NAN),
    ))
}

fn neg(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    match &cv.1 {
        Val::Num(jaq_json::Num::Int(i)) => ok(i
            .checked_neg()
            .map_or_else(|| Val::from(-(*i as f64)), Val::from)),
        Val::Num(jaq_json::Num::Dec(d)) => {
            let text = match d.strip_prefix('-') {
                Some(pos) => pos.to_owned(),
                None => format!("-{d}"),
            };
            ok(Val::from_num(&text)
                .unwrap_or_else(|_| Val::from(-cv.1.as_f64().unwrap_or(f64::NAN))))
        }
        Val::Num(_) => ok(Val::from(-cv.1.as_f64().unwrap_or(f64::NAN))),
        other => fail(format!("{} cannot be negated", describe(other))),
    }
}

fn tonumber(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let v = &cv.1;
    let Val::TStr(b) = v else {
        return fail(format!("{} cannot be parsed as a number", describe(v)));
    };
    let text = String::from_utf8_lossy(b);
    if text == "nan" {
        return ok(Val::from(f64::NAN));
    }
    let t = text.strip_prefix('+').unwrap_or(&text);
    let numeric = !t.is_empty()
        && t.bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'))
        && t.bytes().any(|c| c.is_ascii_digit());
    match (numeric, t.parse::<f64>()) {
        (true, Ok(f)) => {
            let t = if t.starts_with('.') {
                format!("0{t}")
            } else {
                t.replace("-.", "-0.")
            };
            ok(Val::from_num(&t).unwrap_or_else(|_| Val::from(f)))
        }
        _ => fail(format!("{} cannot be parsed as a number", describe(v))),
    }
}

/// `split/1`: literal separator; `""` splits into characters; `""` input gives `[]`.
fn split1(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let sep = cv.0.pop_var();
    let (Val::TStr(s), Val::TStr(p)) = (&cv.1, &sep) else {
        return fail("split input and separator must be strings");
    };
    let (s, p) = (String::from_utf8_lossy(s), String::from_utf8_lossy(p));
    let parts: Val = if s.is_empty() {
        Val::from_iter(std::iter::empty())
    } else if p.is_empty() {
        s.chars().map(|c| Val::from(c.to_string())).collect()
    } else {
        s.split(p.as_ref())
            .map(|x| Val::from(x.to_owned()))
            .collect()
    };
    ok(parts)
}

/// `join/1` as jq 1.8 defines it: nulls are empty, numbers and booleans their JSON text.
fn join(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let sep = cv.0.pop_var();
    let items: Vec<Val> = match &cv.1 {
        Val::Arr(a) => a.to_vec(),
        Val::Obj(o) => o.values().cloned().collect(),
        other => return fail(format!("Cannot iterate over {}", describe(other))),
    };
    let mut acc = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            match &sep {
                Val::TStr(p) => acc.push_str(&String::from_utf8_lossy(p)),
                Val::Null => {}
                other => {
                    return fail(math_error(&Val::from(acc), other, "added"));
                }
            }
        }
        match item {
            Val::Null => {}
            Val::TStr(b) => acc.push_str(&String::from_utf8_lossy(b)),
            Val::Num(_) | Val::Bool(_) => acc.push_str(&to_json(item)),
            other => return fail(math_error(&Val::from(acc), other, "added")),
        }
        if let Err(e) = check_size(acc.len()) {
            return box_once(Err(e));
        }
    }
    ok(Val::from(acc))
}

/// Rewords jaq's error messages the way jq 1.8 words them (indexing, iteration, length);
/// other messages are returned unchanged.
pub(crate) fn jq_wording(msg: &str) -> Option<String> {
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    };
    if let Some(rest) = msg.strip_prefix("cannot index ") {
        let (l, r) = rest.rsplit_once(" with ")?;
        let (lv, rv) = (parse(l)?, parse(r)?);
        return Some(format!(
            "Cannot index {} with {} ({r})",
            kind(&lv),
            kind(&rv)
        ));
    }
    if let Some(v) = msg
        .strip_prefix("cannot use ")
        .and_then(|m| m.strip_suffix(" as iterable (array or object)"))
    {
        let vv = parse(v)?;
        return Some(format!(
            "Cannot iterate over {}",
            describe_json(kind(&vv), v)
        ));
    }
    if let Some(v) = msg.strip_prefix("invalid path expression with input ") {
        return Some(format!("Invalid path expression with result {v}"));
    }
    if let Some(v) = msg.strip_suffix(" has no length") {
        let vv = parse(v)?;
        return Some(format!("{} has no length", describe_json(kind(&vv), v)));
    }
    None
}

fn describe_json(kind: &str, text: &str) -> String {
    let shown = if text.len() > 29 {
        let mut cut = 25;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...", &text[..cut])
    } else {
        text.to_owned()
    };
    format!("{kind} ({shown})")
}

/// `__debug`: logs the input (as JSON) at debug level instead of writing to stderr.
fn debug(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    tracing::debug!(target: "adoport::jq", value = %to_json(&cv.1), "jq debug");
    ok(cv.1)
}

/// `__jqmsg`: applied to caught errors, so `try … catch .` sees jq's wording.
fn jqmsg(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    match &cv.1 {
        Val::TStr(b) => match jq_wording(&String::from_utf8_lossy(b)) {
            Some(m) => ok(Val::from(m)),
            None => ok(cv.1),
        },
        _ => ok(cv.1),
    }
}

/// Index normalisation: fractional numbers floor (slice ends round up), NaN
/// selects nothing (`NaN` start/end of a slice means the array's start/end).
fn norm_index(v: Val, end: Option<bool>) -> Val {
    let Val::Num(n) = &v else { return v };
    if matches!(n, jaq_json::Num::Int(_)) {
        return v;
    }
    let f = v.as_f64().unwrap_or(f64::NAN);
    if f.is_nan() {
        return match end {
            Some(_) => Val::Null,
            None => Val::from(isize::MAX),
        };
    }
    if !f.is_finite() {
        return v;
    }
    let r = if end == Some(true) {
        f.ceil()
    } else {
        f.floor()
    };
    Val::from(r.clamp(isize::MIN as f64, isize::MAX as f64) as isize)
}

fn idx(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    ok(norm_index(cv.1, None))
}

fn idx_lo(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    ok(norm_index(cv.1, Some(false)))
}

fn idx_hi(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    ok(norm_index(cv.1, Some(true)))
}

/// `__slice(from; upto)`: `.[from:upto]` as a value; `null` stays `null` as in jq.
fn slice(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let upto = cv.0.pop_var();
    let from = cv.0.pop_var();
    if let Val::Null = cv.1 {
        return ok(Val::Null);
    }
    let bound = |v: &Val| (!matches!(v, Val::Null)).then(|| v.clone());
    let (f, u) = (bound(&from), bound(&upto));
    match cv.1.clone().range(f.as_ref()..u.as_ref()) {
        Ok(v) => ok(v),
        Err(e) => box_once(Err(Exn::from(e))),
    }
}

fn type_native(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    ok(Val::from(type_of(&cv.1).to_owned()))
}

fn describe_native(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    ok(Val::from(describe(&cv.1)))
}

fn binary(mut cv: Cv<'_, D>) -> (Val, Val) {
    let l = cv.0.pop_var();
    let r = cv.0.pop_var();
    (l, r)
}

fn add(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let (l, r) = binary(cv);
    let size = match (&l, &r) {
        (Val::TStr(a), Val::TStr(b)) => a.len() + b.len(),
        (Val::Arr(a), Val::Arr(b)) => (a.len() + b.len()) * 8,
        _ => 0,
    };
    if let Err(e) = check_size(size) {
        return box_once(Err(e));
    }
    if needs_double(&l, &r) {
        return ok(double_op(&l, &r, |a, b| a + b));
    }
    use Val::{Arr, Null, Num, Obj, TStr};
    match (&l, &r) {
        (Null, _)
        | (_, Null)
        | (Num(_), Num(_))
        | (TStr(_), TStr(_))
        | (Arr(_), Arr(_))
        | (Obj(_), Obj(_)) => {}
        _ => return fail(math_error(&l, &r, "added")),
    }
    match l + r {
        Ok(v) => ok(as_double(v)),
        Err(e) => box_once(Err(Exn::from(e))),
    }
}

fn sub(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let (l, r) = binary(cv);
    if needs_double(&l, &r) {
        return ok(double_op(&l, &r, |a, b| a - b));
    }
    match (&l, &r) {
        (Val::Num(_), Val::Num(_)) | (Val::Arr(_), Val::Arr(_)) => {}
        _ => return fail(math_error(&l, &r, "subtracted")),
    }
    match l - r {
        Ok(v) => ok(as_double(v)),
        Err(e) => box_once(Err(Exn::from(e))),
    }
}

fn mul(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let (l, r) = binary(cv);
    let repeat = match (&l, &r) {
        (Val::TStr(s), Val::Num(_)) => Some((s, &r)),
        (Val::Num(_), Val::TStr(s)) => Some((s, &l)),
        _ => None,
    };
    if let Some((s, n)) = repeat {
        let n = n.as_f64().unwrap_or(f64::NAN);
        if n.is_nan() || n < 0.0 {
            return ok(Val::Null);
        }
        let times = n.floor();
        let len = s.len() as f64 * times;
        if len > f64::from(i32::MAX) {
            return fail("Repeat string result too long");
        }
        if let Err(e) = check_size(len as usize) {
            return box_once(Err(e));
        }
        let text = String::from_utf8_lossy(s).repeat(times as usize);
        return ok(Val::from(text));
    }
    if needs_double(&l, &r) {
        return ok(double_op(&l, &r, |a, b| a * b));
    }
    match (&l, &r) {
        (Val::Num(_), Val::Num(_)) | (Val::Obj(_), Val::Obj(_)) => {}
        _ => return fail(math_error(&l, &r, "multiplied")),
    }
    match l * r {
        Ok(v) => ok(as_double(v)),
        Err(e) => box_once(Err(Exn::from(e))),
    }
}

fn div(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let (l, r) = binary(cv);
    if let (Val::Num(_), Val::Num(_)) = (&l, &r) {
        let (a, b) = (
            l.as_f64().unwrap_or(f64::NAN),
            r.as_f64().unwrap_or(f64::NAN),
        );
        if b == 0.0 {
            return fail(format!(
                "{} because the divisor is zero",
                math_error(&l, &r, "divided")
            ));
        }
        if l.is_int()
            && r.is_int()
            && let (Some(x), Some(y)) = (l.as_isize(), r.as_isize())
            && x.checked_rem(y) == Some(0)
            && let Some(q) = x.checked_div(y)
        {
            return ok(Val::from(q));
        }
        return ok(Val::from(a / b));
    }
    match (&l, &r) {
        (Val::TStr(_), Val::TStr(_)) => match l / r {
            Ok(v) => ok(v),
            Err(e) => box_once(Err(Exn::from(e))),
        },
        _ => fail(math_error(&l, &r, "divided")),
    }
}

fn rem(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let (l, r) = binary(cv);
    let (Val::Num(_), Val::Num(_)) = (&l, &r) else {
        return fail(math_error(&l, &r, "divided (remainder)"));
    };
    let to_int = |v: &Val| {
        let f = v.as_f64().unwrap_or(f64::NAN);
        if f.is_nan() { 0 } else { f as i64 }
    };
    if l.as_f64().is_some_and(f64::is_nan) || r.as_f64().is_some_and(f64::is_nan) {
        return ok(Val::from(f64::NAN));
    }
    let (a, b) = (to_int(&l), to_int(&r));
    if b == 0 {
        return fail(format!(
            "{} because the divisor is zero",
            math_error(&l, &r, "divided (remainder)")
        ));
    }
    let m = a.wrapping_rem(b.wrapping_abs());
    ok(Val::from(m as isize))
}

/// Natives registered under new names (the prelude binds jq's names to them).
pub(crate) fn funs() -> Vec<Fun<D>> {
    vec![
        ("__add", v(2), Native::<D>::new(add)),
        ("__sub", v(2), Native::<D>::new(sub)),
        ("__mul", v(2), Native::<D>::new(mul)),
        ("__div", v(2), Native::<D>::new(div)),
        ("__rem", v(2), Native::<D>::new(rem)),
        ("__neg", v(0), Native::<D>::new(neg)),
        ("__tonumber", v(0), Native::<D>::new(tonumber)),
        ("__describe", v(0), Native::<D>::new(describe_native)),
        ("__type", v(0), Native::<D>::new(type_native)),
        ("__split1", v(1), Native::<D>::new(split1)),
        ("__jqmsg", v(0), Native::<D>::new(jqmsg)),
        ("__sized", v(0), Native::<D>::new(sized)),
        ("__idx", v(0), Native::<D>::new(idx)),
        ("__slice", v(2), Native::<D>::new(slice)),
        ("__idx_lo", v(0), Native::<D>::new(idx_lo)),
        ("__idx_hi", v(0), Native::<D>::new(idx_hi)),
        ("__debug", v(0), Native::<D>::new(debug)),
        ("__join", v(1), Native::<D>::new(join)),
    ]
}
