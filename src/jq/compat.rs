//! Natives with jq 1.8 semantics where jaq's differ: arithmetic (division by zero, string
//! repetition, doubles, size limits), `tostring`/`tojson` number rendering, `tonumber`,
//! negation, and jq's way of showing values in error messages.

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Error, Exn, Native, ValT as _, ValXs};
use jaq_json::Val;
use jaq_std::ValT as _;

use super::budget;
use super::natives::{D, type_of};
use super::number;

pub(crate) fn fail<'a>(msg: impl Into<String>) -> ValXs<'a, Val> {
    box_once(Err(Exn::from(Error::str(msg.into()))))
}

pub(crate) fn ok<'a>(v: Val) -> ValXs<'a, Val> {
    box_once(Ok(v))
}

/// `type (value)` as jq's error messages show a value, truncated like jq 1.8.
pub(crate) fn describe(v: &Val) -> String {
    let dump = to_json(v);
    let shown = if dump.len() > 29 {
        let mut cut = 25;
        while !dump.is_char_boundary(cut) {
            cut -= 1;
        }
        let close = match dump.as_bytes()[0] {
            b'{' => "}",
            b'[' => "]",
            b'"' => "\"",
            _ => "",
        };
        format!("{}...{close}", &dump[..cut])
    } else {
        dump
    };
    format!("{} ({shown})", type_of(v))
}

/// jq's compact JSON text of a value (values nested too deeply are cut short).
pub(crate) fn to_json(v: &Val) -> String {
    let mut out = String::new();
    write_json(v, &mut out, 0);
    out
}

fn write_json(v: &Val, out: &mut String, depth: usize) {
    if depth > super::convert::MAX_DEPTH {
        out.push_str("<too deep>");
        return;
    }
    let depth = depth + 1;
    match v {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Num(n) => out.push_str(&number::format(n)),
        Val::TStr(s) | Val::BStr(s) => write_str(&String::from_utf8_lossy(s), out),
        Val::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out, depth);
            }
            out.push(']');
        }
        Val::Obj(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Val::TStr(s) | Val::BStr(s) => write_str(&String::from_utf8_lossy(s), out),
                    other => write_str(&to_json(other), out),
                }
                out.push(':');
                write_json(x, out, depth);
            }
            out.push('}');
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// jq's `tostring`: strings unchanged, everything else as JSON text.
pub(crate) fn to_string(v: Val) -> Val {
    match v {
        Val::TStr(_) => v,
        other => Val::from(to_json(&other)),
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
        Val::Num(jaq_json::Num::Int(i)) => ok(Val::from(-*i)),
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
    let msg = math_error(&l, &r, "added");
    match l + r {
        Ok(v) => ok(as_double(v)),
        Err(_) => fail(msg),
    }
}

fn sub(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let (l, r) = binary(cv);
    if needs_double(&l, &r) {
        return ok(double_op(&l, &r, |a, b| a - b));
    }
    let msg = math_error(&l, &r, "subtracted");
    match l - r {
        Ok(v) => ok(as_double(v)),
        Err(_) => fail(msg),
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
    let msg = math_error(&l, &r, "multiplied");
    match l * r {
        Ok(v) => ok(as_double(v)),
        Err(_) => fail(msg),
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
            && y != 0
            && x % y == 0
        {
            return ok(Val::from(x / y));
        }
        return ok(Val::from(a / b));
    }
    let msg = math_error(&l, &r, "divided");
    match (&l, &r) {
        (Val::TStr(_), Val::TStr(_)) => match l / r {
            Ok(v) => ok(v),
            Err(_) => fail(msg),
        },
        _ => fail(msg),
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

fn tostring(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let v = to_string(cv.1);
    if let Val::TStr(s) = &v
        && let Err(e) = check_size(s.len())
    {
        return box_once(Err(e));
    }
    ok(v)
}

fn tojson(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let text = to_json(&cv.1);
    if text.contains("<too deep>") {
        return fail(format!(
            "value nested deeper than {} levels",
            super::convert::MAX_DEPTH
        ));
    }
    if let Err(e) = check_size(text.len()) {
        return box_once(Err(e));
    }
    ok(Val::from(text))
}

/// Natives registered under new names (the prelude binds jq's names to them).
pub(crate) fn funs() -> Vec<Fun<D>> {
    vec![
        ("__add", v(2), Native::<D>::new(add)),
        ("__sub", v(2), Native::<D>::new(sub)),
        ("__mul", v(2), Native::<D>::new(mul)),
        ("__div", v(2), Native::<D>::new(div)),
        ("__rem", v(2), Native::<D>::new(rem)),
        ("__tostring", v(0), Native::<D>::new(tostring)),
        ("__tojson", v(0), Native::<D>::new(tojson)),
        ("__neg", v(0), Native::<D>::new(neg)),
        ("__tonumber", v(0), Native::<D>::new(tonumber)),
        ("__describe", v(0), Native::<D>::new(describe_native)),
        ("__type", v(0), Native::<D>::new(type_native)),
    ]
}
