//! jq 1.8's `@base64d` (padding optional, jq's errors) and `@urid`.

use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Native, ValXs};
use jaq_json::Val;

use super::compat::{describe, fail, ok};
use super::natives::D;
use super::text::to_string;

fn string_of(v: &Val) -> Option<Vec<u8>> {
    match v {
        Val::TStr(s) | Val::BStr(s) => Some(s.to_vec()),
        _ => None,
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Decodes `bits`-bit symbols from `alphabet`, ignoring `=` padding (jq 1.8's `@base64d`).
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

fn base64d(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let v = match to_string(cv.1) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let bytes = string_of(&v).unwrap_or_default();
    match decode_bits(&bytes, B64, 6) {
        Ok(out) => ok(Val::from(String::from_utf8_lossy(&out).into_owned())),
        Err("trailing") => fail(format!("{} trailing base64 byte found", describe(&v))),
        Err(_) => fail(format!("{} is not valid base64 data", describe(&v))),
    }
}

fn urid(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let v = match to_string(cv.1) {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
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

/// Format natives (the prelude binds `@base64d` and `@urid`).
pub(crate) fn funs() -> Vec<Fun<D>> {
    vec![
        ("__base64d", v(0), Native::<D>::new(base64d)),
        ("__urid", v(0), Native::<D>::new(urid)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_without_padding() {
        assert_eq!(decode_bits(b"cWl4YmF6Cg", B64, 6), Ok(b"qixbaz\n".to_vec()));
        assert_eq!(decode_bits(b"QUJDa", B64, 6), Err("trailing"));
    }
}
