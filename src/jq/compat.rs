//! Natives with jq 1.8 semantics where jaq's differ: arithmetic (division by zero, string
//! repetition, size limits), `tostring`/`tojson` number rendering, and `setpath`/`delpaths`
//! that create structure in `null` as jq does.

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Error, Exn, Native, ValT as _, ValXs};
use jaq_json::{Rc, Val};
use jaq_std::ValT as _;

use super::budget;
use super::natives::{D, type_of};
use super::number;

/// Largest array index `setpath` may create (jq: "Array index too large").
const MAX_INDEX: usize = 1 << 24;

fn fail<'a>(msg: impl Into<String>) -> ValXs<'a, Val> {
    box_once(Err(Exn::from(Error::str(msg.into()))))
}

fn ok<'a>(v: Val) -> ValXs<'a, Val> {
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

/// One step of a path as jq sees it.
fn index_error(target: &Val, key: &Val) -> String {
    let kind = match key {
        Val::TStr(_) => "string",
        Val::Num(_) => "number",
        Val::Obj(_) => "object",
        Val::Arr(_) => "array",
        Val::Bool(_) => "boolean",
        Val::Null => "null",
        Val::BStr(_) => "string",
    };
    format!(
        "Cannot index {} with {kind} ({})",
        type_of(target),
        to_json(key)
    )
}

fn slice_bounds(len: usize, key: &Val) -> Result<(usize, usize), String> {
    let Val::Obj(o) = key else {
        return Err("slice must be an object".into());
    };
    let get = |name: &str| {
        o.get(&Val::from(name.to_owned()))
            .cloned()
            .unwrap_or(Val::Null)
    };
    let bound = |v: Val, default: usize| -> Result<usize, String> {
        match v {
            Val::Null => Ok(default),
            v => {
                let f = v.as_f64().ok_or_else(|| {
                    "Start and end indices of an array slice must be numbers".to_owned()
                })?;
                let i = f.floor() as i64;
                let len = len as i64;
                let i = if i < 0 { (len + i).max(0) } else { i.min(len) };
                Ok(i as usize)
            }
        }
    };
    let start = bound(get("start"), 0)?;
    let end = bound(get("end"), len)?.max(start);
    Ok((start, end))
}

/// jq's `jv_setpath`.
pub(crate) fn set_path(root: Val, path: &[Val], value: Val) -> Result<Val, String> {
    let Some((key, rest)) = path.split_first() else {
        return Ok(value);
    };
    match (root, key) {
        (Val::Null, Val::TStr(_)) => {
            let child = set_path(Val::Null, rest, value)?;
            Val::from_map([(key.clone(), child)]).map_err(|e| e.to_string())
        }
        (Val::Obj(mut o), Val::TStr(_)) => {
            let cur = o.get(key).cloned().unwrap_or(Val::Null);
            let child = set_path(cur, rest, value)?;
            Rc::make_mut(&mut o).insert(key.clone(), child);
            Ok(Val::Obj(o))
        }
        (root @ (Val::Null | Val::Arr(_)), Val::Num(_)) => {
            let mut a = match root {
                Val::Arr(a) => a,
                _ => Rc::new(Vec::new()),
            };
            let f = key.as_f64().unwrap_or(f64::NAN);
            let mut i = if f.is_nan() { 0 } else { f as i64 };
            if i < 0 {
                i += a.len() as i64;
                if i < 0 {
                    return Err("Out of bounds negative array index".into());
                }
            }
            let i = i as usize;
            if i > MAX_INDEX {
                return Err("Array index too large".into());
            }
            let cur = a.get(i).cloned().unwrap_or(Val::Null);
            let child = set_path(cur, rest, value)?;
            let v = Rc::make_mut(&mut a);
            if i >= v.len() {
                v.resize(i + 1, Val::Null);
            }
            v[i] = child;
            Ok(Val::Arr(a))
        }
        (root @ (Val::Null | Val::Arr(_)), Val::Obj(_)) => {
            let a = match root {
                Val::Arr(a) => a,
                _ => Rc::new(Vec::new()),
            };
            let (start, end) = slice_bounds(a.len(), key)?;
            let cur: Val = a[start..end].iter().cloned().collect();
            let child = set_path(cur, rest, value)?;
            let Val::Arr(new) = child else {
                return Err("A slice of an array can only be assigned another array".into());
            };
            let mut out = Vec::with_capacity(a.len() - (end - start) + new.len());
            out.extend_from_slice(&a[..start]);
            out.extend(new.iter().cloned());
            out.extend_from_slice(&a[end..]);
            Ok(Val::Arr(Rc::new(out)))
        }
        (Val::Null | Val::Arr(_), Val::Arr(_)) => {
            Err("Cannot update field at array index of array".into())
        }
        (root, key) => Err(index_error(&root, key)),
    }
}

/// jq's `jv_delpaths` for one path.
fn del_path(root: Val, path: &[Val]) -> Result<Val, String> {
    let Some((key, rest)) = path.split_first() else {
        return Ok(Val::Null);
    };
    match (root, key) {
        (Val::Null, _) => Ok(Val::Null),
        (Val::Obj(mut o), Val::TStr(_)) => {
            if rest.is_empty() {
                Rc::make_mut(&mut o).shift_remove(key);
            } else if let Some(cur) = o.get(key).cloned() {
                let child = del_path(cur, rest)?;
                Rc::make_mut(&mut o).insert(key.clone(), child);
            }
            Ok(Val::Obj(o))
        }
        (Val::Arr(mut a), Val::Num(_)) => {
            let f = key.as_f64().unwrap_or(f64::NAN);
            let mut i = if f.is_nan() { 0 } else { f as i64 };
            if i < 0 {
                i += a.len() as i64;
                if i < 0 {
                    return Ok(Val::Arr(a));
                }
            }
            let i = i as usize;
            if i < a.len() {
                if rest.is_empty() {
                    Rc::make_mut(&mut a).remove(i);
                } else {
                    let child = del_path(a[i].clone(), rest)?;
                    Rc::make_mut(&mut a)[i] = child;
                }
            }
            Ok(Val::Arr(a))
        }
        (Val::Arr(a), Val::Obj(_)) => {
            let (start, end) = slice_bounds(a.len(), key)?;
            if rest.is_empty() {
                let mut out = a[..start].to_vec();
                out.extend_from_slice(&a[end..]);
                Ok(Val::Arr(Rc::new(out)))
            } else {
                let cur: Val = a[start..end].iter().cloned().collect();
                let child = del_path(cur, rest)?;
                set_path(Val::Arr(a), std::slice::from_ref(key), child)
            }
        }
        (root, key) => Err(format!(
            "Cannot delete field at {} index of {}",
            type_of(key),
            type_of(&root)
        )),
    }
}

/// Resolves negative indices and slice bounds against `root`, as jq does before deleting.
fn normalize_path(root: &Val, path: &[Val]) -> Val {
    let mut cur = Some(root.clone());
    let mut out = Vec::with_capacity(path.len());
    for key in path {
        let len = match &cur {
            Some(Val::Arr(a)) => Some(a.len()),
            _ => None,
        };
        let norm = match (key, len) {
            (Val::Num(_), Some(len)) => {
                let f = key.as_f64().unwrap_or(0.0);
                let i = f as i64;
                if i < 0 {
                    Val::from((i + len as i64) as isize)
                } else {
                    key.clone()
                }
            }
            (Val::Obj(_), Some(len)) => match slice_bounds(len, key) {
                Ok((s, e)) => obj_slice(s, e),
                Err(_) => key.clone(),
            },
            _ => key.clone(),
        };
        cur = cur.and_then(|c| c.index(&norm).ok());
        out.push(norm);
    }
    out.into_iter().collect()
}

fn obj_slice(start: usize, end: usize) -> Val {
    Val::from_map([
        (Val::from("start".to_owned()), Val::from(start)),
        (Val::from("end".to_owned()), Val::from(end)),
    ])
    .unwrap_or_default()
}

fn path_list(v: &Val) -> Result<Vec<Val>, String> {
    match v {
        Val::Arr(a) => Ok(a.to_vec()),
        _ => Err("Path must be specified as an array".into()),
    }
}

fn setpath(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let value = cv.0.pop_var();
    let path = cv.0.pop_var();
    match path_list(&path).and_then(|p| set_path(cv.1, &p, value)) {
        Ok(v) => ok(v),
        Err(e) => fail(e),
    }
}

fn delpaths(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let paths = cv.0.pop_var();
    let run = || -> Result<Val, String> {
        let Val::Arr(ps) = &paths else {
            return Err("Paths must be specified as an array".into());
        };
        let mut ps: Vec<Val> = ps
            .iter()
            .map(|p| Ok(normalize_path(&cv.1, &path_list(p)?)))
            .collect::<Result<_, String>>()?;
        ps.sort();
        let mut root = cv.1;
        for p in ps.iter().rev() {
            root = del_path(root, &path_list(p)?)?;
        }
        Ok(root)
    };
    match run() {
        Ok(v) => ok(v),
        Err(e) => fail(e),
    }
}

fn string_of(v: &Val) -> Option<Vec<u8>> {
    match v {
        Val::TStr(s) | Val::BStr(s) => Some(s.to_vec()),
        _ => None,
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Decodes `bits`-bit symbols from `alphabet`, ignoring `=` padding (jq 1.8's `@base64d`
/// and `@base32d`).
fn decode_bits(input: &[u8], alphabet: &[u8], bits: u32) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::new();
    let (mut acc, mut n) = (0u32, 0u32);
    let mut symbols = 0usize;
    for &c in input.iter().filter(|&&c| c != b'=') {
        let v = alphabet.iter().position(|&a| a == c).ok_or("invalid")? as u32;
        acc = (acc << bits) | v;
        n += bits;
        symbols += 1;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
            acc &= (1 << n) - 1;
        }
    }
    if bits == 6 && symbols % 4 == 1 {
        return Err("trailing");
    }
    Ok(out)
}

fn encode_bits(input: &[u8], alphabet: &[u8], bits: u32, block: usize) -> String {
    let mut out = String::new();
    let (mut acc, mut n) = (0u32, 0u32);
    for &b in input {
        acc = (acc << 8) | u32::from(b);
        n += 8;
        while n >= bits {
            n -= bits;
            out.push(alphabet[((acc >> n) & ((1 << bits) - 1)) as usize] as char);
        }
        acc &= (1 << n) - 1;
    }
    if n > 0 {
        out.push(alphabet[((acc << (bits - n)) & ((1 << bits) - 1)) as usize] as char);
    }
    while !out.len().is_multiple_of(block) {
        out.push('=');
    }
    out
}

fn base64d(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let v = to_string(cv.1);
    let bytes = string_of(&v).unwrap_or_default();
    match decode_bits(&bytes, B64, 6) {
        Ok(out) => ok(Val::from(String::from_utf8_lossy(&out).into_owned())),
        Err("trailing") => fail(format!("{} trailing base64 byte found", describe(&v))),
        Err(_) => fail(format!("{} is not valid base64 data", describe(&v))),
    }
}

fn base32(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let v = to_string(cv.1);
    ok(Val::from(encode_bits(
        &string_of(&v).unwrap_or_default(),
        B32,
        5,
        8,
    )))
}

fn base32d(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let v = to_string(cv.1);
    match decode_bits(&string_of(&v).unwrap_or_default(), B32, 5) {
        Ok(out) => ok(Val::from(String::from_utf8_lossy(&out).into_owned())),
        Err(_) => fail(format!("{} is not valid base32 data", describe(&v))),
    }
}

fn urid(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let v = to_string(cv.1);
    let bytes = string_of(&v).unwrap_or_default();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let h = bytes.get(i + 1).and_then(|&c| hex(c));
            let l = bytes.get(i + 2).and_then(|&c| hex(c));
            match (h, l) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return fail(format!("{} is not a valid uri encoding", describe(&v))),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(s) => ok(Val::from(s)),
        Err(_) => fail(format!("{} is not a valid uri encoding", describe(&v))),
    }
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
        ("__setpath", v(2), Native::<D>::new(setpath)),
        ("__delpaths", v(1), Native::<D>::new(delpaths)),
        ("__base64d", v(0), Native::<D>::new(base64d)),
        ("__neg", v(0), Native::<D>::new(neg)),
        ("__tonumber", v(0), Native::<D>::new(tonumber)),
        ("__describe", v(0), Native::<D>::new(describe_native)),
        ("__base32", v(0), Native::<D>::new(base32)),
        ("__base32d", v(0), Native::<D>::new(base32d)),
        ("__urid", v(0), Native::<D>::new(urid)),
    ]
}
