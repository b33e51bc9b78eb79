//! `setpath` and `delpaths` with jq 1.8's semantics: assignment creates objects and arrays
//! in `null` (`null | .a[2] = 1`), negative indices count from the end, slices can be
//! assigned, and deletions resolve indices against the original value before removing.

use jaq_core::ValT as _;
use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Native, ValXs};
use jaq_json::{Rc, Val};
use jaq_std::ValT as _;

use super::compat::{fail, ok, to_json};
use super::convert::{MAX_DEPTH, deeper_than, too_deep};
use super::natives::{D, type_of};

/// Largest array index `setpath` may create (jq: "Array index too large").
const MAX_INDEX: usize = 1 << 24;

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
        (Val::TStr(_), Val::Obj(_)) => Err("Cannot update string slices".into()),
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

/// Refuses a path and value that would nest deeper than [`MAX_DEPTH`] once set (setting
/// a value at the end of a long path builds one level per key).
fn check_depth(path: &[Val], value: &Val) -> Result<(), String> {
    match MAX_DEPTH.checked_sub(path.len()) {
        Some(left) if !deeper_than(value, left) => Ok(()),
        _ => Err(too_deep("value")),
    }
}

fn setpath(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let value = cv.0.pop_var();
    let path = cv.0.pop_var();
    let set = path_list(&path)
        .and_then(|p| check_depth(&p, &value).and_then(|()| set_path(cv.1, &p, value)));
    match set {
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

/// Path natives (the prelude binds `setpath`, `delpaths`, assignment and `del` to them).
pub(crate) fn funs() -> Vec<Fun<D>> {
    vec![
        ("__setpath", v(2), Native::<D>::new(setpath)),
        ("__delpaths", v(1), Native::<D>::new(delpaths)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Val {
        Val::from(x.to_owned())
    }

    #[test]
    fn creates_structure_in_null() {
        let v = set_path(Val::Null, &[s("a"), Val::from(2isize)], Val::from(1isize)).unwrap();
        assert_eq!(to_json(&v), "{\"a\":[null,null,1]}");
    }

    #[test]
    fn setpath_refuses_paths_that_would_nest_past_the_limit() {
        let long: Vec<Val> = (0..=MAX_DEPTH).map(|_| Val::from(0usize)).collect();
        assert!(check_depth(&long, &Val::Null).is_err());
        assert!(check_depth(&long[1..], &Val::Null).is_ok());
        let one: Val = [Val::Null].into_iter().collect();
        assert!(check_depth(&long[1..], &one).is_err());
    }

    #[test]
    fn refuses_negative_indices_before_the_start() {
        let arr: Val = [Val::from(1isize)].into_iter().collect();
        let err = set_path(arr, &[Val::from(-2isize)], Val::Null).unwrap_err();
        assert_eq!(err, "Out of bounds negative array index");
    }
}
