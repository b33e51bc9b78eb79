//! jq 1.8's `strptime` (glibc-style parsing, day-of-week and day-of-year computed from the
//! fields) and `timegm`-style `mktime`, which normalises out-of-range fields
//! (`2024-02-30` is 1 March) where jaq's calendar types reject them.

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, v};
use jaq_core::{Cv, Error, Exn, Native, ValXs};
use jaq_json::Val;
use jaq_std::ValT as _;

use super::natives::D;

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const DAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-based, any day value).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Normalise the month first, then let the day overflow.
    let y = y + (m - 1).div_euclid(12);
    let m = (m - 1).rem_euclid(12) + 1;
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (d - 1)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Day of the year (0-based) as jq computes it from year, month (0-based) and day.
fn yday(y: i64, mon: i64, d: i64) -> i64 {
    const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let m = mon.clamp(0, 11) as usize;
    CUM[m] + d - 1 + i64::from(m > 1 && is_leap(y))
}

fn wday(y: i64, mon: i64, d: i64) -> i64 {
    (days_from_civil(y, mon + 1, d) + 4).rem_euclid(7)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn num(&mut self, max_digits: usize, lo: i64, hi: i64) -> Option<i64> {
        while self.s.get(self.i).is_some_and(|c| *c == b' ') {
            self.i += 1;
        }
        let mut neg = false;
        if lo < 0 && self.s.get(self.i) == Some(&b'-') {
            neg = true;
            self.i += 1;
        } else if self.s.get(self.i) == Some(&b'+') {
            self.i += 1;
        }
        let start = self.i;
        while self.i < self.s.len()
            && self.i - start < max_digits
            && self.s[self.i].is_ascii_digit()
        {
            self.i += 1;
        }
        if self.i == start {
            return None;
        }
        let n: i64 = std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()?;
        let n = if neg { -n } else { n };
        (lo..=hi).contains(&n).then_some(n)
    }

    fn name(&mut self, names: &[&str]) -> Option<i64> {
        let rest = std::str::from_utf8(&self.s[self.i..])
            .ok()?
            .to_ascii_lowercase();
        for (k, n) in names.iter().enumerate() {
            for cand in [*n, &n[..3]] {
                if rest.starts_with(cand) {
                    self.i += cand.len();
                    return Some(k as i64);
                }
            }
        }
        None
    }
}

/// Parses `s` with a strftime-style format into jq's broken-down time.
pub(crate) fn strptime(s: &str, fmt: &str) -> Option<[i64; 8]> {
    let (mut y, mut mon, mut d, mut h, mut mi, mut sec) = (1900, 0, 1, 0, 0, 0);
    let mut offset = 0i64;
    let mut p = Parser {
        s: s.as_bytes(),
        i: 0,
    };
    let f = fmt.as_bytes();
    let mut k = 0;
    while k < f.len() {
        let c = f[k];
        if c == b'%' && k + 1 < f.len() {
            k += 1;
            match f[k] {
                b'Y' => y = p.num(4, 0, 9999)?,
                b'm' => mon = p.num(2, 1, 12)? - 1,
                b'd' | b'e' => d = p.num(2, 1, 31)?,
                b'H' => h = p.num(2, 0, 23)?,
                b'M' => mi = p.num(2, 0, 59)?,
                b'S' => sec = p.num(2, 0, 61)?,
                b'j' => {
                    let doy = p.num(3, 1, 366)?;
                    d = doy;
                    mon = 0;
                }
                b'y' => {
                    let yy = p.num(2, 0, 99)?;
                    y = if yy < 69 { 2000 + yy } else { 1900 + yy };
                }
                b'b' | b'B' | b'h' => mon = p.name(&MONTHS)?,
                b'a' | b'A' => {
                    p.name(&DAYS)?;
                }
                b'T' => {
                    h = p.num(2, 0, 23)?;
                    (p.s.get(p.i) == Some(&b':')).then_some(())?;
                    p.i += 1;
                    mi = p.num(2, 0, 59)?;
                    (p.s.get(p.i) == Some(&b':')).then_some(())?;
                    p.i += 1;
                    sec = p.num(2, 0, 61)?;
                }
                b'F' => {
                    y = p.num(4, 0, 9999)?;
                    (p.s.get(p.i) == Some(&b'-')).then_some(())?;
                    p.i += 1;
                    mon = p.num(2, 1, 12)? - 1;
                    (p.s.get(p.i) == Some(&b'-')).then_some(())?;
                    p.i += 1;
                    d = p.num(2, 1, 31)?;
                }
                b'z' => {
                    let sign = match p.s.get(p.i) {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        Some(b'Z') => {
                            p.i += 1;
                            k += 1;
                            continue;
                        }
                        _ => return None,
                    };
                    p.i += 1;
                    let hh = p.num(2, 0, 99)?;
                    if p.s.get(p.i) == Some(&b':') {
                        p.i += 1;
                    }
                    let mm = p.num(2, 0, 59)?;
                    offset = sign * (hh * 3600 + mm * 60);
                }
                b'Z' => {
                    while p.s.get(p.i).is_some_and(u8::is_ascii_alphabetic) {
                        p.i += 1;
                    }
                }
                b'%' => {
                    (p.s.get(p.i) == Some(&b'%')).then_some(())?;
                    p.i += 1;
                }
                _ => return None,
            }
        } else if c.is_ascii_whitespace() {
            while p.s.get(p.i).is_some_and(u8::is_ascii_whitespace) {
                p.i += 1;
            }
        } else {
            (p.s.get(p.i) == Some(&c)).then_some(())?;
            p.i += 1;
        }
        k += 1;
    }
    if p.i != p.s.len() {
        return None;
    }
    // glibc keeps the offset in tm_gmtoff; jq's timegm ignores it.
    let _ = offset;
    Some([y, mon, d, h, mi, sec, wday(y, mon, d), yday(y, mon, d)])
}

/// `timegm` of jq's broken-down time, normalising out-of-range fields.
pub(crate) fn timegm(bdt: &[f64]) -> Option<f64> {
    let f = |i: usize| bdt.get(i).copied().unwrap_or(0.0);
    // Far outside any calendar jq can print; also keeps the arithmetic from overflowing.
    if bdt.iter().take(6).any(|x| !x.is_finite() || x.abs() > 1e9) {
        return None;
    }
    let days = days_from_civil(f(0) as i64, f(1) as i64 + 1, f(2) as i64);
    Some(days as f64 * 86_400.0 + f(3).trunc() * 3600.0 + f(4).trunc() * 60.0 + f(5).floor())
}

/// Civil date of a day count since 1970-01-01: (year, month 1-12, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `strftime` of a UTC epoch (whole seconds) for the directives mappings use; `None` for
/// a directive this does not know (the caller then uses jaq's implementation).
pub(crate) fn strftime(epoch: i64, fmt: &str) -> Option<String> {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mi, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let wd = (days + 4).rem_euclid(7);
    let yd = yday(y, m - 1, d);
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let month = MONTHS[(m - 1) as usize];
        let day = DAYS[wd as usize];
        let cap = |s: &str| {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        };
        match chars.next()? {
            'Y' => out.push_str(&y.to_string()),
            'C' => out.push_str(&format!("{:02}", y.div_euclid(100))),
            'y' => out.push_str(&format!("{:02}", y.rem_euclid(100))),
            'm' => out.push_str(&format!("{m:02}")),
            'd' => out.push_str(&format!("{d:02}")),
            'e' => out.push_str(&format!("{d:2}")),
            'H' => out.push_str(&format!("{hh:02}")),
            'I' => out.push_str(&format!("{:02}", if hh % 12 == 0 { 12 } else { hh % 12 })),
            'M' => out.push_str(&format!("{mi:02}")),
            'S' => out.push_str(&format!("{ss:02}")),
            'p' => out.push_str(if hh < 12 { "AM" } else { "PM" }),
            'j' => out.push_str(&format!("{:03}", yd + 1)),
            'a' => out.push_str(&cap(&day[..3])),
            'A' => out.push_str(&cap(day)),
            'b' | 'h' => out.push_str(&cap(&month[..3])),
            'B' => out.push_str(&cap(month)),
            'u' => out.push_str(&(if wd == 0 { 7 } else { wd }).to_string()),
            'w' => out.push_str(&wd.to_string()),
            'Z' => out.push_str("UTC"),
            'z' => out.push_str("+0000"),
            's' => out.push_str(&epoch.to_string()),
            'T' => out.push_str(&format!("{hh:02}:{mi:02}:{ss:02}")),
            'R' => out.push_str(&format!("{hh:02}:{mi:02}")),
            'D' => out.push_str(&format!("{m:02}/{d:02}/{:02}", y.rem_euclid(100))),
            'F' => out.push_str(&format!("{y}-{m:02}-{d:02}")),
            'n' => out.push('\n'),
            't' => out.push('\t'),
            '%' => out.push('%'),
            _ => return None,
        }
    }
    Some(out)
}

fn fail<'a>(msg: String) -> ValXs<'a, Val> {
    box_once(Err(Exn::from(Error::str(msg))))
}

fn strptime_native(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let fmt = cv.0.pop_var();
    let (Val::TStr(s), Val::TStr(f)) = (&cv.1, &fmt) else {
        return fail("strptime/1 requires string inputs and arguments".into());
    };
    let (s, f) = (String::from_utf8_lossy(s), String::from_utf8_lossy(f));
    match strptime(&s, &f) {
        Some(parts) => box_once(Ok(parts.iter().map(|n| Val::from(*n as isize)).collect())),
        None => fail(format!("date \"{s}\" does not match format \"{f}\"")),
    }
}

/// `__strftime_jq($f)` on an epoch number; `null` when a directive needs jaq's version.
fn strftime_native(mut cv: Cv<'_, D>) -> ValXs<'_, Val> {
    let fmt = cv.0.pop_var();
    let (Some(t), Val::TStr(f)) = (cv.1.as_f64(), &fmt) else {
        return box_once(Ok(Val::Null));
    };
    let out = strftime(t.floor() as i64, &String::from_utf8_lossy(f));
    box_once(Ok(out.map_or(Val::Null, Val::from)))
}

fn is_broken_down(v: &Val) -> Option<Vec<f64>> {
    match v {
        Val::Arr(a) if !a.is_empty() => a.iter().map(|x| x.as_f64()).collect(),
        _ => None,
    }
}

fn mktime_native(cv: Cv<'_, D>) -> ValXs<'_, Val> {
    match is_broken_down(&cv.1).and_then(|n| timegm(&n)) {
        Some(t) => box_once(Ok(Val::from(t as isize))),
        None => fail("mktime requires parsed datetime inputs".into()),
    }
}

/// Date natives.
pub(crate) fn funs() -> Vec<Fun<D>> {
    vec![
        ("__strftime_jq", v(1), Native::<D>::new(strftime_native)),
        ("mktime", v(0), Native::<D>::new(mktime_native)),
        ("__strptime_jq", v(1), Native::<D>::new(strptime_native)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iso_dates_with_computed_weekday_and_yearday() {
        assert_eq!(
            strptime("2015-03-05T23:51:47Z", "%Y-%m-%dT%H:%M:%SZ"),
            Some([2015, 2, 5, 23, 51, 47, 4, 63])
        );
        assert_eq!(
            strptime("2024-02-30T00:00:00Z", "%Y-%m-%dT%H:%M:%SZ"),
            Some([2024, 1, 30, 0, 0, 0, 5, 60])
        );
        assert_eq!(strptime("2024-13-01T00:00:00Z", "%Y-%m-%dT%H:%M:%SZ"), None);
        assert_eq!(
            strptime("2024-01-15T10:30:00.123Z", "%Y-%m-%dT%H:%M:%SZ"),
            None
        );
    }

    #[test]
    fn formats_like_strftime() {
        assert_eq!(
            strftime(1_425_599_507, "%Y-%m-%dT%H:%M:%SZ").as_deref(),
            Some("2015-03-05T23:51:47Z")
        );
        assert_eq!(
            strftime(1_425_599_507, "%A, %B %d, %Y %j %e %a %b").as_deref(),
            Some("Thursday, March 05, 2015 064  5 Thu Mar")
        );
        assert_eq!(strftime(-86_400, "%F").as_deref(), Some("1969-12-31"));
        assert_eq!(strftime(0, "%Q"), None);
    }

    #[test]
    fn normalises_like_timegm() {
        assert_eq!(
            timegm(&[2024.0, 1.0, 30.0, 0.0, 0.0, 0.0]),
            Some(1_709_251_200.0)
        );
        assert_eq!(
            timegm(&[2015.0, 2.0, 5.0, 23.0, 51.0, 47.0]),
            Some(1_425_599_507.0)
        );
    }
}
