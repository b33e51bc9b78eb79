//! Natives that walk values without recursing on the native stack, and the nesting checks
//! that keep every value within [`MAX_DEPTH`]:
//!
//! - `__recurse` is `..` and `recurse` (values, paths for `path(..)`/`paths`, and updates),
//!   a loop over an explicit stack that charges a step per value and the bytes of each path,
//!   so `[paths]` over a large value fails on the budget instead of running for seconds;
//! - `__flatten($depth)` is jq 1.8's `flatten`, `__walk(f)` its `walk(f)` and `__tostream`
//!   its `tostream`, loops as well;
//! - `__deep` fails when its input nests deeper than the limit: the prelude applies it to
//!   library definitions that wrap values (`group_by`, `path`, `JOIN`, `INDEX`, …);
//! - `__json_depth` fails when a JSON text nests deeper than the limit, before `fromjson`'s
//!   recursive parser sees it.

use jaq_core::box_iter::{box_once, then};
use jaq_core::native::{Fun, v};
use jaq_core::path::Opt;
use jaq_core::{Cv, Error, Exn, Native, ValT as _, ValXs};
use jaq_json::Val;
use jaq_std::ValT as _;

use super::budget;
use super::compat::{describe, fail, ok};
use super::convert::{MAX_DEPTH, deeper_than, too_deep};
use super::natives::D;

fn exn<'a>(msg: impl Into<String>) -> Exn<'a, Val> {
    Exn::from(Error::str(msg.into()))
}

/// A container's children with their keys (array indices, object keys), last first, so
/// that pushing them on a stack pops them in order.
fn children_rev(v: &Val) -> Vec<(Val, Val)> {
    match v {
        Val::Arr(a) => a
            .iter()
            .enumerate()
            .rev()
            .map(|(i, x)| (Val::from(i), x.clone()))
            .collect(),
        Val::Obj(o) => o
            .iter()
            .rev()
            .map(|(k, x)| (k.clone(), x.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// Charges one value of a walk at `level` (its depth below the walk's start).
fn step(level: usize) -> Result<(), String> {
    budget::charge(1).map_err(str::to_owned)?;
    if level > MAX_DEPTH {
        return Err(too_deep("value"));
    }
    Ok(())
}

/// Bytes a path of `len` keys is counted as against the evaluation's size allowance.
fn path_bytes(len: usize) -> usize {
    8 * len + 2
}

/// `..`: the input, then each child's `..`, depth first.
fn recurse_run(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let mut stack = vec![(cv.1, 0usize)];
    let mut failed = false;
    Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let (v, level) = stack.pop()?;
        if let Err(e) = step(level) {
            failed = true;
            return Some(Err(exn(e)));
        }
        stack.extend(children_rev(&v).into_iter().map(|(_, x)| (x, level + 1)));
        Some(Ok(v))
    }))
}

/// `.. |= f`: children first, then the value itself (as jaq and jq's `walk` do), recursing
/// at most [`MAX_DEPTH`] levels.
fn recurse_update<'a>(v: Val, f: &dyn Fn(Val) -> ValXs<'a, Val>, level: usize) -> ValXs<'a, Val> {
    if let Err(e) = step(level) {
        return box_once(Err(exn(e)));
    }
    then(
        v.map_values(Opt::Optional, |x| recurse_update(x, f, level + 1)),
        f,
    )
}

/// `__recurse`, with its path and update forms.
fn recurse() -> Fun<D> {
    let native = Native::<D>::new(recurse_run)
        .with_paths(|cv| {
            let (_ctx, (v, p)) = cv;
            let mut stack = vec![(v, p, 0usize)];
            let mut failed = false;
            Box::new(std::iter::from_fn(move || {
                if failed {
                    return None;
                }
                let (v, p, level) = stack.pop()?;
                let charged = step(level)
                    .and_then(|()| budget::charge_bytes(path_bytes(level)).map_err(str::to_owned));
                if let Err(e) = charged {
                    failed = true;
                    return Some(Err(exn(e)));
                }
                for (k, x) in children_rev(&v) {
                    stack.push((x, p.clone().cons(k), level + 1));
                }
                Some(Ok((v, p)))
            }))
        })
        .with_update(|cv, f| recurse_update(cv.1, &*f, 0));
    ("__recurse", v(0), native)
}

/// jq 1.8's `flatten($depth)`: `.[]`'s values, arrays among them spliced in `$depth` levels
/// deep (a negative depth is refused; `flatten` is `flatten(1e9)`).
fn flatten(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let depth = cv.0.pop_var();
    let negative = match &depth {
        Val::Null | Val::Bool(_) => true,
        Val::Num(_) => depth.as_f64().is_some_and(|d| d < 0.0),
        _ => false,
    };
    if negative {
        return fail("flatten depth must not be negative");
    }
    let top: Vec<Val> = match &cv.1 {
        Val::Arr(a) => a.iter().cloned().collect(),
        Val::Obj(o) => o.values().cloned().collect(),
        other => return fail(format!("Cannot iterate over {}", describe(other))),
    };
    // Depth left, as jq counts it: `$x != 0` splices, then recurses with `$x - 1`.
    let left = match &depth {
        Val::Num(_) => depth.as_f64(),
        _ => None,
    };
    let mut out = Vec::with_capacity(top.len());
    // A stack of (remaining elements reversed, depth left at that level).
    let mut stack: Vec<(Vec<Val>, Option<f64>)> = vec![(rev(top), left)];
    while let Some((items, d)) = stack.last_mut() {
        let Some(item) = items.pop() else {
            stack.pop();
            continue;
        };
        let d = *d;
        match (&item, d) {
            (Val::Arr(a), Some(d)) if d != 0.0 => {
                // Each spliced array is a step; its scalars are copied without charge.
                if let Err(why) = budget::charge(1) {
                    return fail(why);
                }
                if stack.len() > MAX_DEPTH {
                    return fail(too_deep("value"));
                }
                stack.push((rev(a.to_vec()), Some(d - 1.0)));
            }
            // A depth that is not a number: jq fails on `$x - 1` once there is an array.
            (Val::Arr(_), None) => {
                return fail(format!(
                    "{} and number (1) cannot be subtracted",
                    describe(&depth)
                ));
            }
            _ => out.push(item),
        }
    }
    ok(out.into_iter().collect())
}

/// A container of `walk` being rebuilt: its children still to walk (last first) and what
/// the walked ones gave.
enum Rebuild {
    Arr {
        pending: Vec<Val>,
        out: Vec<Val>,
    },
    Obj {
        pending: Vec<(Val, Val)>,
        key: Option<Val>,
        out: jaq_json::Map,
    },
}

impl Rebuild {
    fn of(v: &Val) -> Option<Rebuild> {
        match v {
            Val::Arr(a) => Some(Rebuild::Arr {
                pending: rev(a.to_vec()),
                out: Vec::with_capacity(a.len()),
            }),
            Val::Obj(o) => Some(Rebuild::Obj {
                pending: o
                    .iter()
                    .rev()
                    .map(|(k, x)| (k.clone(), x.clone()))
                    .collect(),
                key: None,
                out: jaq_json::Map::default(),
            }),
            _ => None,
        }
    }
}

/// jq 1.8's `walk(f)`: `f` applied to every value bottom up, arrays taking every output of
/// `f` on an element, objects the first (a key whose value gives none is dropped), as jq's
/// `def walk(f): def w: if type == "object" then map_values(w) elif type == "array" then
/// map(w) else . end | f; w;` does.
fn walk(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let (f, fc) = cv.0.pop_fun();
    let apply = |v: Val| -> Result<Vec<Val>, Exn<'_, Val>> {
        budget::charge(1).map_err(exn)?;
        f.run((fc.clone(), v)).collect()
    };
    let run = || -> Result<Vec<Val>, Exn<'_, Val>> {
        let mut stack: Vec<Rebuild> = Vec::new();
        let mut next = Some(cv.1.clone());
        loop {
            // Go down to the next value: a container is rebuilt, a scalar is done at once.
            let mut done = match next.take() {
                Some(v) => match Rebuild::of(&v) {
                    Some(frame) => {
                        if stack.len() >= MAX_DEPTH {
                            return Err(exn(too_deep("value")));
                        }
                        stack.push(frame);
                        None
                    }
                    None => Some(apply(v)?),
                },
                None => None,
            };
            // Hand finished values up, finishing each container whose children are done.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(done.unwrap_or_default());
                };
                if let Some(outputs) = done.take() {
                    match top {
                        Rebuild::Arr { out, .. } => out.extend(outputs),
                        Rebuild::Obj { key, out, .. } => {
                            if let (Some(k), Some(first)) = (key.take(), outputs.into_iter().next())
                            {
                                out.insert(k, first);
                            }
                        }
                    }
                }
                let child = match top {
                    Rebuild::Arr { pending, .. } => pending.pop(),
                    Rebuild::Obj { pending, key, .. } => pending.pop().map(|(k, x)| {
                        *key = Some(k);
                        x
                    }),
                };
                if child.is_some() {
                    next = child;
                    break;
                }
                let rebuilt = match stack.pop() {
                    Some(Rebuild::Arr { out, .. }) => out.into_iter().collect(),
                    Some(Rebuild::Obj { out, .. }) => Val::Obj(jaq_json::Rc::new(out)),
                    None => Val::Null,
                };
                done = Some(apply(rebuilt)?);
            }
        }
    };
    match run() {
        Ok(outputs) => Box::new(outputs.into_iter().map(Ok)),
        Err(e) => box_once(Err(e)),
    }
}

/// A container `tostream` is inside: its keyed children still to visit (last first) and its
/// path.
type OpenContainer = (Vec<(Val, Val)>, Vec<Val>);

/// jq 1.8's `tostream`: `[path, leaf]` for every value without children and `[path]`
/// closing every container after its last child, in the order of jq's
/// `path(def r: (.[]?|r), .; r)` (children first).
fn tostream(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let run = || -> Result<Vec<Val>, String> {
        let mut events = Vec::new();
        // Each open container: its children still to visit (last first), and its path.
        let mut stack: Vec<OpenContainer> = Vec::new();
        let mut next = Some((cv.1.clone(), Vec::new()));
        loop {
            if let Some((v, path)) = next.take() {
                budget::charge(1)?;
                budget::charge_bytes(path_bytes(path.len()))?;
                let children = children_rev(&v);
                if children.is_empty() {
                    events.push([path.into_iter().collect(), v].into_iter().collect());
                } else {
                    if stack.len() >= MAX_DEPTH {
                        return Err(too_deep("value"));
                    }
                    stack.push((children, path));
                }
            }
            let Some((pending, path)) = stack.last_mut() else {
                return Ok(events);
            };
            match pending.pop() {
                Some((k, x)) => {
                    let mut child = path.clone();
                    child.push(k.clone());
                    // The closing event names the last child's path.
                    if pending.is_empty() {
                        path.push(k);
                    }
                    next = Some((x, child));
                }
                None => {
                    let (_, closing) = stack.pop().unwrap_or_default();
                    let closing: Val = closing.into_iter().collect();
                    events.push([closing].into_iter().collect());
                }
            }
        }
    };
    match run() {
        Ok(events) => Box::new(events.into_iter().map(Ok)),
        Err(e) => fail(e),
    }
}

fn rev(mut v: Vec<Val>) -> Vec<Val> {
    v.reverse();
    v
}

/// `__deep`: the input unchanged, or an error when it nests deeper than the limit.
fn deep(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    if deeper_than(&cv.1, MAX_DEPTH) {
        return fail(too_deep("value"));
    }
    ok(cv.1)
}

/// How deeply a JSON text nests, counted outside strings (and jaq's `#` comments), up to
/// just past `limit`.
pub(crate) fn json_nesting(text: &[u8], limit: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut bytes = text.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'"' => {
                while let Some(&c) = bytes.next() {
                    match c {
                        b'\\' => {
                            bytes.next();
                        }
                        b'"' => break,
                        _ => {}
                    }
                }
            }
            b'#' => {
                for &c in bytes.by_ref() {
                    if c == b'\n' {
                        break;
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    break;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// `__json_depth`: the input unchanged, or an error when the JSON text it holds nests
/// deeper than the limit (`fromjson` applies it first).
fn json_depth(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    if let Val::TStr(s) | Val::BStr(s) = &cv.1
        && json_nesting(&s[..], MAX_DEPTH) > MAX_DEPTH
    {
        return fail(too_deep("JSON text"));
    }
    ok(cv.1)
}

/// The walking natives.
pub(crate) fn funs() -> Vec<Fun<D>> {
    vec![
        recurse(),
        ("__flatten", v(1), Native::<D>::new(flatten)),
        (
            "__walk",
            Box::new([jaq_core::Bind::Fun(())]),
            Native::<D>::new(walk),
        ),
        ("__tostream", v(0), Native::<D>::new(tostream)),
        ("__deep", v(0), Native::<D>::new(deep)),
        ("__json_depth", v(0), Native::<D>::new(json_depth)),
    ]
}

#[cfg(test)]
mod tests {
    use super::json_nesting;

    #[test]
    fn json_nesting_skips_strings_escapes_and_comments() {
        assert_eq!(json_nesting(br#"[{"a": "[[[\"[["}]"#, 100), 2);
        assert_eq!(json_nesting(b"# [[[[\n[1]", 100), 1);
        assert_eq!(json_nesting(&[b'['; 10_000], 5), 6);
    }
}
