//! jq 1.8's number rendering: literals keep their decimal text (decNumber's scientific
//! string), computed doubles print as jq's `jvp_dtoa_fmt` (17 significant digits, shortest
//! round trip).

use jaq_json::{Num, Val};
use jaq_std::ValT as _;

/// Renders a number as jq 1.8's `tostring`/`tojson` does.
pub(crate) fn format(n: &Num) -> String {
    match n {
        Num::Int(i) => i.to_string(),
        Num::BigInt(b) => b.to_string(),
        Num::Dec(s) => {
            literal(s).unwrap_or_else(|| double(Val::Num(n.clone()).as_f64().unwrap_or(f64::NAN)))
        }
        Num::Float(f) => double(*f),
    }
}

/// Shortest round-trip digits and the decimal point position (`0.d1d2… × 10^decpt`).
fn digits(f: f64) -> (String, i32) {
    let s = format!("{:e}", f.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_owned(), exp + 1)
}

/// jq's rendering of a computed double.
pub(crate) fn double(f: f64) -> String {
    if f.is_nan() {
        return "null".to_owned();
    }
    let f = f.clamp(f64::MIN, f64::MAX);
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let (ds, decpt) = digits(f);
    let n = ds.len() as i32;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if decpt <= -4 || decpt > n + 15 {
        out.push_str(&ds[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&ds[1..]);
        }
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", e.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(&ds);
    } else if decpt >= n {
        out.push_str(&ds);
        out.extend(std::iter::repeat_n('0', (decpt - n) as usize));
    } else {
        out.push_str(&ds[..decpt as usize]);
        out.push('.');
        out.push_str(&ds[decpt as usize..]);
    }
    out
}

/// decNumber's to-scientific-string of a JSON number literal; `None` if not a literal.
pub(crate) fn literal(s: &str) -> Option<String> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all = format!("{int}{frac}");
    let coeff = all.trim_start_matches('0');
    let coeff = if coeff.is_empty() { "0" } else { coeff };
    let exponent = exp - frac.len() as i64;
    let n = coeff.len() as i64;
    let adjusted = exponent + n - 1;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exponent <= 0 && adjusted >= -6 {
        if exponent == 0 {
            out.push_str(coeff);
        } else {
            let point = n + exponent;
            if point > 0 {
                out.push_str(&coeff[..point as usize]);
                out.push('.');
                out.push_str(&coeff[point as usize..]);
            } else {
                out.push_str("0.");
                out.extend(std::iter::repeat_n('0', (-point) as usize));
                out.push_str(coeff);
            }
        }
    } else {
        out.push_str(&coeff[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&coeff[1..]);
        }
        out.push('E');
        out.push(if adjusted < 0 { '-' } else { '+' });
        out.push_str(&adjusted.abs().to_string());
    }
    Some(out)
}

/// Python's `repr` of a float, the text Port's jq receives for a float input.
pub(crate) fn python_repr(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    let (ds, decpt) = digits(f);
    let n = ds.len() as i32;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    let e = decpt - 1;
    if !(-4..16).contains(&e) {
        out.push_str(&ds[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&ds[1..]);
        }
        out.push_str(&format!("e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-decpt) as usize));
        out.push_str(&ds);
    } else if decpt >= n {
        out.push_str(&ds);
        out.extend(std::iter::repeat_n('0', (decpt - n) as usize));
        out.push_str(".0");
    } else {
        out.push_str(&ds[..decpt as usize]);
        out.push('.');
        out.push_str(&ds[decpt as usize..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_computed_doubles_like_jq() {
        let cases = [
            (1e17, "1e+17"),
            (1e15, "1000000000000000"),
            (123456789012345678.0, "123456789012345680"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456.789, "123456.789"),
            (2.5e-300, "2.5e-300"),
            (12345678901234567890.0, "12345678901234567000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::INFINITY, "1.7976931348623157e+308"),
            (2.0, "2"),
            (-1.5e-9, "-1.5e-09"),
        ];
        for (f, s) in cases {
            assert_eq!(double(f), s, "{f}");
        }
    }

    #[test]
    fn formats_literals_like_decnumber() {
        let cases = [
            ("1e17", "1E+17"),
            ("1.5e-5", "0.000015"),
            ("0.00001", "0.00001"),
            ("1e-7", "1E-7"),
            ("12345678901234567890", "12345678901234567890"),
            ("1.0e3", "1.0E+3"),
            ("123e-20", "1.23E-18"),
            ("-1.5e-9", "-1.5E-9"),
            ("1.0", "1.0"),
            ("1.10", "1.10"),
            ("0.0", "0.0"),
            ("1e1000", "1E+1000"),
        ];
        for (l, s) in cases {
            assert_eq!(literal(l).as_deref(), Some(s), "{l}");
        }
    }

    #[test]
    fn renders_floats_as_python_repr() {
        assert_eq!(python_repr(3.0), "3.0");
        assert_eq!(python_repr(1e16), "1e+16");
        assert_eq!(python_repr(1.5e-5), "1.5e-05");
        assert_eq!(python_repr(0.0001), "0.0001");
        assert_eq!(python_repr(123.25), "123.25");
    }
}
