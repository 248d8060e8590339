//! Exact Kubernetes resource quantities (`100m`, `0.5`, `1.5Gi`, `1e3`), parsed as the API server parses them.
//!
//! Invariants:
//! - A [`Quantity`] is an exact integer count of nano-units (10^-9). No floating point is used
//!   anywhere, except to turn an unquoted YAML/JSON float into text before parsing it.
//! - [`Quantity::parse`] accepts exactly the strings upstream `ParseQuantity` accepts and yields
//!   the value upstream yields, quirks included (`"."`, `"-"` and `"Gi"` are zero; `"Pi"` is an
//!   error; a `1e4294967297` exponent is truncated to 32 bits, i.e. `10`). Precision below a
//!   nano-unit is rounded away from zero to the next nano-unit; binary-suffixed (`Ki`..`Ei`)
//!   values are capped at 2^63-1 units.
//! - [`fmt::Display`] emits upstream's DecimalSI canonical form (`1500m`, `2`, `1073741824`, `1n`)
//!   and always parses back to the same value.
//! - No input makes anything here panic: what does not fit is a [`QuantityError`] or `None`.
//!
//! Followed: `k8s.io/apimachinery/pkg/api/resource/` (apimachinery master, July 2026):
//! `quantity.go` (`parseQuantityString`, `ParseQuantity`, `CanonicalizeBytes`, `UnmarshalJSON`,
//! `Value`, `MilliValue`), `suffix.go` (`interpret`), `amount.go` (`AsCanonicalBytes`),
//! `math.go` (`negativeScaleInt64`), and the tables of `quantity_test.go`.
//!
//! Where we simplify or differ:
//! - We store nano-units in an `i128`, so magnitudes above 2^127 nano-units (about 1.7e29 units)
//!   are rejected with [`QuantityError::TooLarge`]; upstream keeps an unbounded `inf.Dec`.
//! - A value does not remember the suffix family it was written in (upstream's `Format`), so
//!   `1Gi` prints as `1073741824`, never `1Gi`.
//! - DecimalSI has no suffix above `E`: upstream prints 10^21 as `"1"` (the exponent is lost);
//!   we print `1e21`, which parses back.
//! - [`Quantity::value`] and [`Quantity::milli_value`] saturate at the `i64` bounds (upstream
//!   wraps) and always round away from zero, as upstream does for its int64-backed values
//!   (`-1.5` gives `-2`); upstream's `inf.Dec`-backed path gets negative values wrong
//!   (`-0.0001Ki` gives `+1`), which we do not copy.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

const NANOS_PER_UNIT: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;

/// Upstream's `maxAllowed` (2^63-1 units), the cap for binary-suffixed values, in nano-units.
const BINARY_CAP_NANOS: u128 = i64::MAX as u128 * NANOS_PER_UNIT as u128;

/// The largest magnitude of a negative value: |i128::MIN|.
const NEGATIVE_LIMIT: u128 = 1 << 127;

/// At most this many bytes of a rejected input are echoed in an error message.
const ECHO_LIMIT: usize = 128;

/// An exact Kubernetes resource quantity, stored as an integer count of nano-units (10^-9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity {
    nanos: i128,
}

/// Why a string is not a quantity. Each message quotes the input (cut after 128 bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not have the shape `<sign><digits>.<digits><suffix>` (upstream `ErrFormatWrong`).
    #[error(
        "invalid quantity {input:?}: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    Format { input: String },
    /// The suffix is not one of `n u m "" k M G T P E`, `Ki Mi Gi Ti Pi Ei`, or `e`/`E` followed by a
    /// 64-bit integer (upstream `ErrSuffix`).
    #[error(
        "invalid quantity {input:?}: unable to parse quantity's suffix (expected one of n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei, or e/E followed by an integer)"
    )]
    Suffix { input: String },
    /// The numeric part has no digit where upstream needs one (upstream `ErrNumeric`).
    #[error("invalid quantity {input:?}: unable to parse numeric part of quantity")]
    Numeric { input: String },
    /// The value is well formed but beyond what an `i128` of nano-units holds.
    #[error(
        "quantity {input:?} is too large: kubesim holds at most 2^127 nano-units (about 1.7e29) in magnitude"
    )]
    TooLarge { input: String },
}

impl QuantityError {
    fn format(input: &str) -> Self {
        QuantityError::Format { input: echo(input) }
    }

    fn suffix(input: &str) -> Self {
        QuantityError::Suffix { input: echo(input) }
    }

    fn numeric(input: &str) -> Self {
        QuantityError::Numeric { input: echo(input) }
    }

    fn too_large(input: &str) -> Self {
        QuantityError::TooLarge { input: echo(input) }
    }
}

/// The input as quoted in an error: whole if short, else its first bytes (on a char boundary) and "...".
fn echo(input: &str) -> String {
    if input.len() <= ECHO_LIMIT {
        return input.to_owned();
    }
    let mut end = ECHO_LIMIT;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &input[..end])
}

impl Quantity {
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    /// Parses a quantity exactly as upstream `resource.ParseQuantity` does. No surrounding
    /// whitespace is allowed (the JSON/serde path trims it first, as upstream `UnmarshalJSON` does).
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        parse_quantity(s)
    }

    pub const fn from_nanos(nanos: i128) -> Quantity {
        Quantity { nanos }
    }

    pub const fn nanos(self) -> i128 {
        self.nanos
    }

    /// `from_units(1)` is the quantity `"1"`.
    pub const fn from_units(units: i64) -> Quantity {
        Quantity {
            nanos: units as i128 * NANOS_PER_UNIT,
        }
    }

    /// `from_millis(1)` is the quantity `"1m"`.
    pub const fn from_millis(millis: i64) -> Quantity {
        Quantity {
            nanos: millis as i128 * NANOS_PER_MILLI,
        }
    }

    /// As upstream `MilliValue()`: the value ×1000, rounded up in magnitude (away from zero:
    /// `0.1m` gives 1, `-0.1m` gives -1), saturating at the `i64` bounds.
    pub fn milli_value(self) -> i64 {
        saturate(div_away_from_zero(self.nanos, NANOS_PER_MILLI))
    }

    /// As upstream `Value()`: the value rounded up in magnitude to an integer (away from zero:
    /// `1.5` gives 2, `-1.5` gives -2), saturating at the `i64` bounds.
    pub fn value(self) -> i64 {
        saturate(div_away_from_zero(self.nanos, NANOS_PER_UNIT))
    }

    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    pub fn is_negative(self) -> bool {
        self.nanos < 0
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.nanos
            .checked_add(other.nanos)
            .map(Quantity::from_nanos)
    }

    pub fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        self.nanos
            .checked_sub(other.nanos)
            .map(Quantity::from_nanos)
    }

    pub fn checked_neg(self) -> Option<Quantity> {
        self.nanos.checked_neg().map(Quantity::from_nanos)
    }
}

/// n / d rounded away from zero; d > 0.
fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 { q } else { q + n.signum() }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// The pieces upstream's `parseQuantityString` cuts a string into.
#[derive(Debug, PartialEq, Eq)]
struct Pieces<'a> {
    negative: bool,
    /// Integer digits without leading zeros; empty stands for upstream's `num = "0"`.
    int_digits: &'a [u8],
    /// Digits after the `.` (upstream `denom`), possibly empty.
    frac_digits: &'a [u8],
    /// Everything after the number (upstream `suffix`), not yet interpreted.
    suffix: &'a [u8],
    /// Whether upstream's `value` (the signed number handed to `inf.Dec.SetString` on its slow
    /// path) holds at least one digit. Without one that path fails with `ErrNumeric`.
    value_has_digit: bool,
}

/// The characters upstream's first suffix loop takes.
fn is_suffix_letter(b: u8) -> bool {
    matches!(
        b,
        b'e' | b'E' | b'i' | b'n' | b'u' | b'm' | b'k' | b'K' | b'M' | b'G' | b'T' | b'P'
    )
}

/// Mirrors `parseQuantityString` (quantity.go): `None` is its `ErrFormatWrong`.
fn split(s: &[u8]) -> Option<Pieces<'_>> {
    let end = s.len();
    let mut pos = 0;
    let mut negative = false;
    match s.first() {
        Some(b'-') => {
            negative = true;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }

    // Leading zeros. A string that is only a sign and zeros ends here, as the number "0".
    let zeros_start = pos;
    while pos < end && s[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Some(Pieces {
            negative,
            int_digits: &[],
            frac_digits: &[],
            suffix: &[],
            value_has_digit: true,
        });
    }
    let had_zeros = pos > zeros_start;

    let int_start = pos;
    while pos < end && s[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_digits = &s[int_start..pos];

    let mut frac_digits: &[u8] = &[];
    if pos < end && s[pos] == b'.' {
        pos += 1;
        let frac_start = pos;
        while pos < end && s[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_digits = &s[frac_start..pos];
    }
    let value_has_digit = had_zeros || !int_digits.is_empty() || !frac_digits.is_empty();

    // Suffix: letters from the set, an optional sign, digits, and nothing else.
    let suffix_start = pos;
    while pos < end && is_suffix_letter(s[pos]) {
        pos += 1;
    }
    if pos < end && (s[pos] == b'+' || s[pos] == b'-') {
        pos += 1;
    }
    while pos < end && s[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return None;
    }
    Some(Pieces {
        negative,
        int_digits,
        frac_digits,
        suffix: &s[suffix_start..],
        value_has_digit,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SuffixKind {
    DecimalSi,
    BinarySi,
    DecimalExponent,
}

/// Mirrors `suffixer.interpret` (suffix.go): the exponent (of 10, or of 2 for `BinarySi`).
fn interpret(suffix: &[u8]) -> Option<(i32, SuffixKind)> {
    use SuffixKind::*;
    let found = match suffix {
        b"" => (0, DecimalSi),
        b"n" => (-9, DecimalSi),
        b"u" => (-6, DecimalSi),
        b"m" => (-3, DecimalSi),
        b"k" => (3, DecimalSi),
        b"M" => (6, DecimalSi),
        b"G" => (9, DecimalSi),
        b"T" => (12, DecimalSi),
        b"P" => (15, DecimalSi),
        b"E" => (18, DecimalSi),
        b"Ki" => (10, BinarySi),
        b"Mi" => (20, BinarySi),
        b"Gi" => (30, BinarySi),
        b"Ti" => (40, BinarySi),
        b"Pi" => (50, BinarySi),
        b"Ei" => (60, BinarySi),
        [b'e' | b'E', rest @ ..] if !rest.is_empty() => {
            // strconv.ParseInt(rest, 10, 64) accepts the same strings as i64::from_str.
            let parsed: i64 = std::str::from_utf8(rest).ok()?.parse().ok()?;
            // Upstream then stores it with int32(parsed): the high bits are dropped.
            (parsed as i32, DecimalExponent)
        }
        _ => return None,
    };
    Some(found)
}

fn parse_quantity(s: &str) -> Result<Quantity, QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::format(s));
    }
    if s == "0" {
        return Ok(Quantity::ZERO);
    }
    let p = split(s.as_bytes()).ok_or_else(|| QuantityError::format(s))?;
    let (exponent, kind) = interpret(p.suffix).ok_or_else(|| QuantityError::suffix(s))?;
    let binary = kind == SuffixKind::BinarySi;
    let pow2 = if binary { exponent.unsigned_abs() } else { 0 };

    // Upstream's lengths are Go ints converted with int32(...), i.e. truncated; so are ours.
    let num_len = p.int_digits.len().max(1); // upstream's num is "0" when no digit is left
    let denom_len32 = p.frac_digits.len() as i32;

    // Upstream's fast path (an int64 mantissa with a base-10 scale of at least -9) is exact and
    // needs no rounding, but its conditions decide where upstream's quirks show, so we keep them.
    let precision: i32 = if binary {
        if exponent >= 0 && p.frac_digits.is_empty() {
            // 15 - len(num) - int32(float32(exponent)*3/10) - 1; exact for exponents 10..=60.
            15i32
                .wrapping_sub(num_len as i32)
                .wrapping_sub(exponent / 10 * 3)
                .wrapping_sub(1)
        } else {
            -1
        }
    } else {
        18i32.wrapping_sub((num_len + p.frac_digits.len()) as i32)
    };
    if precision >= 0 {
        let scale = if binary { 0 } else { exponent }.wrapping_sub(denom_len32);
        if scale >= -9 {
            // strconv.ParseInt(num+denom, 10, 64)
            let shifted = small_value(p.int_digits, p.frac_digits)
                .ok_or_else(|| QuantityError::numeric(s))?;
            if shifted.checked_mul(1i64 << pow2).is_some() {
                let magnitude =
                    nanos_magnitude(p.int_digits, p.frac_digits, pow2, scale as i64 + 9);
                return finish(s, p.negative, magnitude);
            }
            // A binary value that overflows int64 falls through to the slow path, like upstream.
        }
    }

    // Upstream's slow path: an inf.Dec built from the number text, scaled by the suffix,
    // rounded up to nano-units, and capped when binary.
    if !p.value_has_digit {
        return Err(QuantityError::numeric(s));
    }
    // The inf.Dec scale is an int32 too: len(denom) + (-exponent) for base 10, wrapping.
    let inf_scale = if binary {
        denom_len32
    } else {
        denom_len32.wrapping_add(exponent.wrapping_neg())
    };
    let mut magnitude = nanos_magnitude(p.int_digits, p.frac_digits, pow2, 9 - inf_scale as i64);
    if binary {
        magnitude = Some(magnitude.map_or(BINARY_CAP_NANOS, |m| m.min(BINARY_CAP_NANOS)));
    }
    finish(s, p.negative, magnitude)
}

/// The value of the digits `int ++ frac` if it is at most `i64::MAX`.
fn small_value(int: &[u8], frac: &[u8]) -> Option<i64> {
    let mut value: i64 = 0;
    for &d in int.iter().chain(frac) {
        value = value.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(value)
}

/// `ceil(D * 2^pow2 * 10^pow10)`, where D is the integer spelt by the digits `int ++ frac`;
/// `None` if it exceeds `u128::MAX`. Linear in the number of digits, whatever `pow10` is.
fn nanos_magnitude(int: &[u8], frac: &[u8], pow2: u32, pow10: i64) -> Option<u128> {
    let mut digits: Vec<u8> = int
        .iter()
        .chain(frac)
        .map(|d| d - b'0')
        .skip_while(|&d| d == 0)
        .collect();
    if digits.is_empty() {
        return Some(0);
    }
    if pow2 > 0 {
        // Schoolbook multiplication of the decimal digits by 2^pow2 (pow2 <= 60).
        let factor: u128 = 1 << pow2;
        let mut carry: u128 = 0;
        for d in digits.iter_mut().rev() {
            let v = u128::from(*d) * factor + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        let mut head = Vec::new();
        while carry > 0 {
            head.push((carry % 10) as u8);
            carry /= 10;
        }
        head.reverse();
        head.extend_from_slice(&digits);
        digits = head;
    }
    let mut pow10 = pow10;
    while digits.last() == Some(&0) {
        digits.pop();
        pow10 = pow10.saturating_add(1);
    }
    // Now D has no leading or trailing zeros, and u128::MAX has 39 digits.
    const MAX_DIGITS: i64 = 39;
    let len = digits.len() as i64;
    if pow10 >= 0 {
        if len.saturating_add(pow10) > MAX_DIGITS {
            return None;
        }
        let mut value = digits_to_u128(&digits)?;
        for _ in 0..pow10 {
            value = value.checked_mul(10)?;
        }
        Some(value)
    } else {
        let dropped = pow10.unsigned_abs();
        if dropped >= len as u64 {
            // 0 < D * 10^pow10 < 1
            return Some(1);
        }
        let kept = (len as u64 - dropped) as usize;
        if kept as i64 > MAX_DIGITS {
            return None;
        }
        // The dropped digits end in a non-zero digit (trailing zeros are gone): round up.
        digits_to_u128(&digits[..kept])?.checked_add(1)
    }
}

fn digits_to_u128(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u128::from(d))
    })
}

fn finish(s: &str, negative: bool, magnitude: Option<u128>) -> Result<Quantity, QuantityError> {
    let limit = if negative {
        NEGATIVE_LIMIT
    } else {
        i128::MAX as u128
    };
    match magnitude {
        Some(m) if m <= limit => {
            // m <= 2^127; `as` maps 2^127 to i128::MIN, whose wrapping negation is itself.
            let nanos = m as i128;
            Ok(Quantity::from_nanos(if negative {
                nanos.wrapping_neg()
            } else {
                nanos
            }))
        }
        _ => Err(QuantityError::too_large(s)),
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Quantity, QuantityError> {
        Quantity::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting

impl fmt::Display for Quantity {
    /// Upstream's DecimalSI canonical form (`AsCanonicalBytes` + a decimal suffix): the largest
    /// exponent that is a multiple of 3 and loses nothing, e.g. `1500m`, `2`, `2k`, `1n`.
    /// Exponents above 18 have no suffix and are written `1e21`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut mantissa = self.nanos.unsigned_abs();
        let mut exponent: i32 = -9;
        while mantissa.is_multiple_of(10) {
            mantissa /= 10;
            exponent += 1;
        }
        // Round the exponent down to a multiple of 3. This only restores factors of 10 that
        // were just removed (exponent started at -9), so it cannot overflow.
        let extra = exponent.rem_euclid(3);
        mantissa *= 10u128.pow(extra.unsigned_abs());
        exponent -= extra;
        let suffix = match exponent {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => "",
        };
        let sign = if self.nanos < 0 { "-" } else { "" };
        if exponent > 18 {
            write!(f, "{sign}{mantissa}e{exponent}")
        } else {
            write!(f, "{sign}{mantissa}{suffix}")
        }
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// A string (surrounding whitespace trimmed, as upstream `UnmarshalJSON` does), an integer,
    /// a float (written with Rust's shortest round-trip `{}` and parsed), or null (zero, as upstream).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Quantity, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

struct QuantityVisitor;

impl QuantityVisitor {
    fn parse<E: de::Error>(text: &str) -> Result<Quantity, E> {
        Quantity::parse(text).map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes quantity: a string such as \"100m\" or \"1Gi\", or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        // Go's strings.TrimSpace and str::trim both strip Unicode White_Space.
        Self::parse(v.trim())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        Ok(Quantity::from_units(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_f32<E: de::Error>(self, v: f32) -> Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
        Self::parse(&v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Quantity, E> {
        Ok(Quantity::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nanos(s: &str) -> i128 {
        match Quantity::parse(s) {
            Ok(q) => q.nanos(),
            Err(e) => panic!("{s:?} should parse: {e}"),
        }
    }

    /// upstream decQuantity(mantissa, exponent): mantissa * 10^exponent, in nano-units.
    fn dec(mantissa: i128, exponent: u32) -> i128 {
        mantissa * 10i128.pow(exponent)
    }

    /// upstream decQuantity(mantissa, -exponent), in nano-units.
    fn dec_neg(mantissa: i128, exponent: u32) -> i128 {
        mantissa * 10i128.pow(9 - exponent)
    }

    const MAX_ALLOWED: i128 = i64::MAX as i128 * NANOS_PER_UNIT;

    /// quantity_test.go TestQuantityParse, valid table (value in nano-units).
    fn upstream_parse_table() -> Vec<(&'static str, i128)> {
        let u = NANOS_PER_UNIT;
        vec![
            ("0", 0),
            ("0n", 0),
            ("0u", 0),
            ("0m", 0),
            ("0Ki", 0),
            ("0k", 0),
            ("0Mi", 0),
            ("0M", 0),
            ("0Gi", 0),
            ("0G", 0),
            ("0Ti", 0),
            ("0T", 0),
            // Quantity less numbers are allowed
            ("1", u),
            // Binary suffixes
            ("1Ki", 1024 * u),
            ("8Ki", 8 * 1024 * u),
            ("7Mi", 7 * (1 << 20) * u),
            ("6Gi", 6 * (1 << 30) * u),
            ("5Ti", 5 * (1 << 40) * u),
            ("4Pi", 4 * (1 << 50) * u),
            ("3Ei", 3 * (1 << 60) * u),
            ("10Ti", 10 * (1 << 40) * u),
            ("100Ti", 100 * (1 << 40) * u),
            // Decimal suffixes
            ("5n", dec_neg(5, 9)),
            ("4u", dec_neg(4, 6)),
            ("3m", dec_neg(3, 3)),
            ("9", dec(9, 9)),
            ("8k", dec(8, 3 + 9)),
            ("50k", dec(5, 4 + 9)),
            ("7M", dec(7, 6 + 9)),
            ("6G", dec(6, 9 + 9)),
            ("5T", dec(5, 12 + 9)),
            ("40T", dec(4, 13 + 9)),
            ("300T", dec(3, 14 + 9)),
            ("2P", dec(2, 15 + 9)),
            ("1E", dec(1, 18 + 9)),
            // Decimal exponents
            ("1E-3", dec_neg(1, 3)),
            ("1e3", dec(1, 3 + 9)),
            ("1E6", dec(1, 6 + 9)),
            ("1e9", dec(1, 9 + 9)),
            ("1E12", dec(1, 12 + 9)),
            ("1e15", dec(1, 15 + 9)),
            ("1E18", dec(1, 18 + 9)),
            // Nonstandard but still parsable
            ("1e14", dec(1, 14 + 9)),
            ("1e13", dec(1, 13 + 9)),
            ("1e3", dec(1, 3 + 9)),
            ("100.035k", dec(100035, 9)),
            // Things that look like floating point
            ("0.001", dec_neg(1, 3)),
            ("0.0005k", dec_neg(5, 1)),
            ("0.005", dec_neg(5, 3)),
            ("0.05", dec_neg(5, 2)),
            ("0.5", dec_neg(5, 1)),
            ("0.00050k", dec_neg(5, 1)),
            ("0.00500", dec_neg(5, 3)),
            ("0.05000", dec_neg(5, 2)),
            ("0.50000", dec_neg(5, 1)),
            ("0.5e0", dec_neg(5, 1)),
            ("0.5e-1", dec_neg(5, 2)),
            ("0.5e-2", dec_neg(5, 3)),
            ("0.5e0", dec_neg(5, 1)),
            ("10.035M", dec(10035, 3 + 9)),
            ("1.2e3", dec(12, 2 + 9)),
            ("1.3E+6", dec(13, 5 + 9)),
            ("1.40e9", dec(14, 8 + 9)),
            ("1.53E12", dec(153, 10 + 9)),
            ("1.6e15", dec(16, 14 + 9)),
            ("1.7E18", dec(17, 17 + 9)),
            ("9.01", dec_neg(901, 2)),
            ("8.1k", dec(81, 2 + 9)),
            ("7.123456M", dec(7123456, 9)),
            ("6.987654321G", dec(6987654321, 9)),
            ("5.444T", dec(5444, 9 + 9)),
            ("40.1T", dec(401, 11 + 9)),
            ("300.2T", dec(3002, 11 + 9)),
            ("2.5P", dec(25, 14 + 9)),
            ("1.01E", dec(101, 16 + 9)),
            // Things that saturate/round
            ("3.001n", dec_neg(4, 9)),
            ("1.1E-9", dec_neg(2, 9)),
            ("0.0000000001", dec_neg(1, 9)),
            ("0.0000000005", dec_neg(1, 9)),
            ("0.00000000050", dec_neg(1, 9)),
            ("0.5e-9", dec_neg(1, 9)),
            ("0.9n", dec_neg(1, 9)),
            ("0.00000012345", dec_neg(124, 9)),
            ("0.00000012354", dec_neg(124, 9)),
            ("9Ei", MAX_ALLOWED),
            ("9223372036854775807Ki", MAX_ALLOWED),
            ("12E", dec(12, 18 + 9)),
            // We'll accept fractional binary stuff, too.
            ("100.035Ki", dec_neg(10243584, 2)),
            ("0.5Mi", dec(524288, 9)),
            ("0.05Gi", dec_neg(536870912, 1)),
            ("0.025Ti", dec_neg(274877906944, 1)),
            // Things written by trolls
            ("0.000000000001Ki", dec_neg(2, 9)),
            (".001", dec_neg(1, 3)),
            (".0001k", dec_neg(100, 3)),
            ("1.", dec(1, 9)),
            ("1.G", dec(1, 9 + 9)),
        ]
    }

    #[test]
    fn parses_every_valid_entry_of_upstream_quantity_parse_table() {
        for (input, expected) in upstream_parse_table() {
            assert_eq!(nanos(input), expected, "{input}");
        }
    }

    #[test]
    fn parses_upstream_table_with_minus_sign_as_the_negation() {
        for (input, expected) in upstream_parse_table() {
            assert_eq!(nanos(&format!("-{input}")), -expected, "-{input}");
        }
    }

    #[test]
    fn parses_upstream_table_with_plus_sign_as_the_same_value() {
        for (input, expected) in upstream_parse_table() {
            assert_eq!(nanos(&format!("+{input}")), expected, "+{input}");
        }
    }

    #[test]
    fn parses_binary_si_suffixes() {
        let u = NANOS_PER_UNIT;
        assert_eq!(nanos("1Ki"), 1024 * u);
        assert_eq!(nanos("1Mi"), (1 << 20) * u);
        assert_eq!(nanos("1Gi"), (1 << 30) * u);
        assert_eq!(nanos("1Ti"), (1 << 40) * u);
        assert_eq!(nanos("1Pi"), (1 << 50) * u);
        assert_eq!(nanos("1Ei"), (1 << 60) * u);
        assert_eq!(nanos("500Mi"), 500 * (1 << 20) * u);
        assert_eq!(nanos("7002280Ki"), 7002280 * 1024 * u);
        assert_eq!(nanos("1.5Gi"), 1536 * (1 << 20) * u);
    }

    #[test]
    fn parses_the_examples_from_the_brief() {
        let u = NANOS_PER_UNIT;
        assert_eq!(nanos("100m"), 100 * NANOS_PER_MILLI);
        assert_eq!(nanos("0.5"), u / 2);
        assert_eq!(nanos("1G"), 1_000_000_000 * u);
        assert_eq!(nanos("1e3"), 1000 * u);
        assert_eq!(nanos("+1"), u);
        assert_eq!(nanos("-2"), -2 * u);
        assert_eq!(nanos(".5"), u / 2);
        assert_eq!(nanos("0"), 0);
        assert_eq!(nanos("1E-3"), NANOS_PER_MILLI);
    }

    /// quantity_test.go TestParseQuantityString.
    #[test]
    fn splits_strings_like_upstream_parse_quantity_string() {
        let table: [(&str, bool, &str, &str, &str); 6] = [
            ("0.025Ti", false, "", "025", "Ti"),
            ("1.025Ti", false, "1", "025", "Ti"),
            ("-1.025Ti", true, "1", "025", "Ti"),
            (".", false, "", "", ""),
            ("-.", true, "", "", ""),
            ("1E-3", false, "1", "", "E-3"),
        ];
        for (input, negative, int, frac, suffix) in table {
            let p = split(input.as_bytes()).unwrap_or_else(|| panic!("{input} should split"));
            assert_eq!(p.negative, negative, "{input}");
            assert_eq!(p.int_digits, int.as_bytes(), "{input}");
            assert_eq!(p.frac_digits, frac.as_bytes(), "{input}");
            assert_eq!(p.suffix, suffix.as_bytes(), "{input}");
        }
    }

    #[test]
    fn rejects_every_invalid_entry_of_upstream_quantity_parse_table() {
        let format = [
            "1.1.M", "1+1.0M", "0.1am", "aoeu", " 1", "1 ", "", "12Qi", "abc", "1.2.3", "1 Gi",
        ];
        for input in format {
            assert!(
                matches!(Quantity::parse(input), Err(QuantityError::Format { .. })),
                "{input:?}: {:?}",
                Quantity::parse(input)
            );
        }
        let suffix = [
            "0.1mi", ".5i", "1i", "-3.01i", "-3.01e-", "1e", "--1", "1e+", "1ee5",
        ];
        for input in suffix {
            assert!(
                matches!(Quantity::parse(input), Err(QuantityError::Suffix { .. })),
                "{input:?}: {:?}",
                Quantity::parse(input)
            );
        }
    }

    #[test]
    fn rejects_unknown_suffix_12qi() {
        let err = Quantity::parse("12Qi").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid quantity \"12Qi\": quantities must match the regular expression \
             '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn rejects_a_bare_e_as_a_suffix_error_naming_the_input() {
        let err = Quantity::parse("1e").unwrap_err();
        assert!(matches!(err, QuantityError::Suffix { .. }));
        assert!(err.to_string().contains("\"1e\""), "{err}");
    }

    #[test]
    fn accepts_numberless_strings_as_zero_like_upstream() {
        // parseQuantityString substitutes "0" for a missing integer part and upstream's fast
        // path never looks at the original text, so these are all zero upstream too.
        for input in [
            "-", "+", ".", "-.", "+.", "Gi", "Ti", "m", "k", "E", "e5", "-Mi", "000",
        ] {
            assert_eq!(Quantity::parse(input), Ok(Quantity::ZERO), "{input:?}");
        }
    }

    #[test]
    fn rejects_numberless_strings_that_reach_upstreams_slow_path() {
        // Pi/Ei (and exponents below -9) skip the int64 fast path; inf.Dec then finds no digit.
        for input in ["Pi", "Ei", "-Pi", ".Ei", "e-10", "+.E-12"] {
            let got = Quantity::parse(input);
            assert!(
                matches!(got, Err(QuantityError::Numeric { .. })),
                "{input:?}: {got:?}"
            );
        }
    }

    #[test]
    fn truncates_exponents_to_32_bits_like_upstream() {
        // suffix.go stores strconv.ParseInt(..., 64) with int32(parsed).
        assert_eq!(nanos("1e4294967297"), dec(1, 1 + 9));
        assert_eq!(nanos("1e4294967296"), NANOS_PER_UNIT);
        assert!(matches!(
            Quantity::parse("1e9223372036854775808"),
            Err(QuantityError::Suffix { .. })
        ));
    }

    #[test]
    fn rejects_values_beyond_i128_nanos_as_too_large() {
        for input in [
            "1e30",
            "-1e30",
            "170141183460469231731687303715884105728n",
            "1e2147483647",
            // upstream wraps the int32 scale here and gets 15 * 10^2147483647
            "1.5e-2147483648",
            "1e-2147483648",
        ] {
            let err = Quantity::parse(input).unwrap_err();
            assert!(
                matches!(err, QuantityError::TooLarge { .. }),
                "{input}: {err}"
            );
            assert!(err.to_string().contains(input), "{err}");
        }
        assert_eq!(nanos("170141183460469231731687303715884105727n"), i128::MAX);
        assert_eq!(
            nanos("-170141183460469231731687303715884105728n"),
            i128::MIN
        );
        assert_eq!(nanos("100e27"), 100 * 10i128.pow(36));
    }

    #[test]
    fn caps_binary_values_at_max_int64_units_like_upstream() {
        assert_eq!(nanos("8Ei"), MAX_ALLOWED);
        assert_eq!(nanos("-8Ei"), -MAX_ALLOWED);
        assert_eq!(
            nanos("99999999999999999999999999999999999999999Ki"),
            MAX_ALLOWED
        );
        assert_eq!(nanos("7.99999999999999999999Ei"), MAX_ALLOWED);
        // Decimal values are not capped.
        assert_eq!(nanos("10E"), dec(10, 18 + 9));
    }

    #[test]
    fn rounds_sub_nano_precision_away_from_zero() {
        assert_eq!(nanos("0.1n"), 1);
        assert_eq!(nanos("-0.1n"), -1);
        assert_eq!(nanos("1e-300"), 1);
        assert_eq!(nanos("1.000000000000000000000000001"), NANOS_PER_UNIT + 1);
        assert_eq!(nanos("0.000000000000000000000000000000000Ki"), 0);
        assert_eq!(nanos("0e-50"), 0);
    }

    #[test]
    fn long_inputs_parse_in_linear_time() {
        let digits = "1".repeat(200_000);
        let err = Quantity::parse(&digits).unwrap_err();
        assert!(matches!(err, QuantityError::TooLarge { .. }));
        assert!(err.to_string().len() < 400, "the echoed input is cut");
        let tiny = format!("0.{}1", "0".repeat(200_000));
        assert_eq!(nanos(&tiny), 1);
        let exact = format!("{}e-200000", "1".to_string() + &"0".repeat(200_000));
        assert_eq!(nanos(&exact), NANOS_PER_UNIT);
    }

    /// quantity_test.go TestParseQuantity: (input, canonical string when it differs).
    #[test]
    fn prints_upstream_canonical_strings_for_int64_boundary_inputs() {
        let table = [
            ("-999999999999999999", ""),
            ("999999999999999999", ""),
            ("-999999999999999999.0", "-999999999999999999"),
            ("999999999999999999.0", "999999999999999999"),
            ("-999999999999999999.1", "-999999999999999999100m"),
            ("999999999999999999.1", "999999999999999999100m"),
            ("-9999999999999999999", ""),
            ("9999999999999999999", ""),
            ("-1E", ""),
            ("1E", ""),
            ("-1000000000000000000", "-1E"),
            ("1000000000000000000", "1E"),
            ("-9999999999999999999.0", "-9999999999999999999"),
            ("9999999999999999999.0", "9999999999999999999"),
            ("-1.0E", "-1E"),
            ("1.0E", "1E"),
            ("-1000000000000000000.0", "-1E"),
            ("1000000000000000000.0", "1E"),
            ("-9999999999999999999000m", "-9999999999999999999"),
            ("9999999999999999999000m", "9999999999999999999"),
            ("-9999999999999999999.1", "-9999999999999999999100m"),
            ("9999999999999999999.1", "9999999999999999999100m"),
            ("-1.0000000000000000001E", "-1000000000000000000100m"),
            ("1.0000000000000000001E", "1000000000000000000100m"),
            ("-1000000000000000000.1", "-1000000000000000000100m"),
            ("1000000000000000000.1", "1000000000000000000100m"),
            ("-1.000000000000000001E", "-1000000000000000001"),
            ("1.000000000000000001E", "1000000000000000001"),
            ("-1000000000000000001", ""),
            ("1000000000000000001", ""),
            ("-10E", ""),
            ("10E", ""),
            ("-10000000000000000000", "-10E"),
            ("10000000000000000000", "10E"),
            ("-10.0E", "-10E"),
            ("10.0E", "10E"),
            ("-10000000000000000000.0", "-10E"),
            ("10000000000000000000.0", "10E"),
            ("-10000000000000000000000m", "-10E"),
            ("10000000000000000000000m", "10E"),
            ("-10.0000000000000000001E", "-10000000000000000000100m"),
            ("10.0000000000000000001E", "10000000000000000000100m"),
            ("-10000000000000000000.1", "-10000000000000000000100m"),
            ("10000000000000000000.1", "10000000000000000000100m"),
            ("-10.000000000000000001E", "-10000000000000000001"),
            ("10.000000000000000001E", "10000000000000000001"),
            ("-10000000000000000001", ""),
            ("10000000000000000001", ""),
            ("-9223372036854775809", ""),
            ("9223372036854775806", ""),
            ("-9223372036854775809.0", "-9223372036854775809"),
            ("9223372036854775806.0", "9223372036854775806"),
            ("-9223372036854775809000m", "-9223372036854775809"),
            ("9223372036854775806000m", "9223372036854775806"),
            ("-9223372036854775809.1", "-9223372036854775809100m"),
            ("9223372036854775806.1", "9223372036854775806100m"),
            ("-9223372036854775808", ""),
            ("9223372036854775807", ""),
            ("-9223372036854775808.0", "-9223372036854775808"),
            ("9223372036854775807.0", "9223372036854775807"),
            ("-9223372036854775808000m", "-9223372036854775808"),
            ("9223372036854775807000m", "9223372036854775807"),
            ("-9223372036854775808.1", "-9223372036854775808100m"),
            ("9223372036854775807.1", "9223372036854775807100m"),
            ("-9223372036854775807", ""),
            ("9223372036854775808", ""),
            ("-9223372036854775807.0", "-9223372036854775807"),
            ("9223372036854775808.0", "9223372036854775808"),
            ("-9223372036854775807000m", "-9223372036854775807"),
            ("9223372036854775808000m", "9223372036854775808"),
            ("-9223372036854775807.1", "-9223372036854775807100m"),
            ("9223372036854775808.1", "9223372036854775808100m"),
        ];
        for (input, canonical) in table {
            let expected = if canonical.is_empty() {
                input
            } else {
                canonical
            };
            let q = Quantity::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.to_string(), expected, "{input}");
        }
    }

    /// quantity_test.go TestQuantityString (DecimalSI rows, and BinarySI rows that upstream
    /// prints as DecimalSI): (mantissa, exponent, canonical, alternate spelling).
    #[test]
    fn prints_upstream_decimal_si_canonical_form() {
        let table: [(i128, i32, &str, &str); 27] = [
            (1, 9, "1G", "1000M"),
            (1000, 6, "1G", "0.001T"),
            (1000000, 3, "1G", ""),
            (1000000000, 0, "1G", ""),
            (1, -3, "1m", "1000u"),
            (80, -3, "80m", ""),
            (1080, -3, "1080m", "1.08"),
            (108, -2, "1080m", "1080000000n"),
            (10800, -4, "1080m", ""),
            (300, 6, "300M", ""),
            (1, 12, "1T", ""),
            (1, 18, "1E", ""),
            (1234567, 6, "1234567M", ""),
            (3, 3, "3k", ""),
            (0, 0, "0", ""),
            (1, -9, "1n", ""),
            (80, -9, "80n", ""),
            (1080, -9, "1080n", ""),
            (108, -8, "1080n", ""),
            (10800, -10, "1080n", ""),
            (1, -6, "1u", ""),
            (80, -6, "80u", ""),
            (1080, -6, "1080u", ""),
            (5, 0, "5", "5000m"),
            (500, -3, "500m", "0.5"),
            (1234567, -3, "1234567m", ""),
            (1025, 0, "1025", ""),
        ];
        for (mantissa, exponent, canonical, alternate) in table {
            let e = exponent + 9;
            let n = if e >= 0 {
                mantissa * 10i128.pow(e.unsigned_abs())
            } else {
                mantissa / 10i128.pow(e.unsigned_abs())
            };
            let q = Quantity::from_nanos(n);
            assert_eq!(q.to_string(), canonical);
            assert_eq!(Quantity::parse(canonical), Ok(q), "{canonical}");
            if !alternate.is_empty() {
                assert_eq!(nanos(alternate), n, "{alternate}");
            }
            if n != 0 {
                assert_eq!(
                    Quantity::from_nanos(-n).to_string(),
                    format!("-{canonical}")
                );
            }
        }
    }

    #[test]
    fn prints_exponents_above_e_in_exponent_notation() {
        // Upstream master prints these as "1", "5", "1" (the exponent is lost).
        assert_eq!(nanos("1000E"), dec(1, 21 + 9));
        assert_eq!(Quantity::from_nanos(dec(1, 21 + 9)).to_string(), "1e21");
        assert_eq!(Quantity::from_nanos(dec(5, 21 + 9)).to_string(), "5e21");
        assert_eq!(Quantity::from_nanos(dec(1, 24 + 9)).to_string(), "1e24");
        assert_eq!(Quantity::from_nanos(dec(15, 20 + 9)).to_string(), "1500E");
        assert_eq!(
            Quantity::from_nanos(i128::MIN).to_string(),
            "-170141183460469231731687303715884105728n"
        );
    }

    /// quantity_test.go TestQuantityParseEmit, with the DecimalSI output for binary inputs.
    #[test]
    fn emits_decimal_si_for_parsed_inputs() {
        let table = [
            ("1Ki", "1024"),
            ("1Mi", "1048576"),
            ("1Gi", "1073741824"),
            ("1024Mi", "1073741824"),
            ("1000M", "1G"),
            (".001Ki", "1024m"),
            (".000001Ki", "1024u"),
            (".000000001Ki", "1024n"),
            (".000000000001Ki", "2n"),
            ("1.5", "1500m"),
            ("2", "2"),
            ("0.5", "500m"),
            ("1e-9", "1n"),
            ("2000", "2k"),
        ];
        for (input, expected) in table {
            let q = Quantity::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.to_string(), expected, "{input}");
            let neg = Quantity::parse(&format!("-{input}")).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(neg.to_string(), format!("-{expected}"), "-{input}");
        }
    }

    /// quantity_test.go TestQuantityParseZero.
    #[test]
    fn prints_zero_as_0() {
        assert_eq!(nanos("0"), 0);
        assert_eq!(Quantity::ZERO.to_string(), "0");
        assert_eq!(
            Quantity::parse("-0m").map(|q| q.to_string()),
            Ok("0".to_owned())
        );
    }

    #[test]
    fn milli_value_rounds_up_in_magnitude() {
        let mv = |s: &str| Quantity::parse(s).map(Quantity::milli_value);
        assert_eq!(mv("0.1m"), Ok(1));
        assert_eq!(mv("100m"), Ok(100));
        assert_eq!(mv("1"), Ok(1000));
        assert_eq!(mv("1n"), Ok(1));
        assert_eq!(mv("1.0001m"), Ok(2));
        assert_eq!(mv("-0.1m"), Ok(-1));
        assert_eq!(mv("-1.5"), Ok(-1500));
        assert_eq!(mv("9Ei"), Ok(i64::MAX));
        assert_eq!(mv("-9Ei"), Ok(i64::MIN));
        assert_eq!(Quantity::from_millis(-7).milli_value(), -7);
    }

    #[test]
    fn value_rounds_up_in_magnitude_like_upstream_int64_amounts() {
        let v = |s: &str| Quantity::parse(s).map(Quantity::value);
        assert_eq!(v("1.5"), Ok(2));
        assert_eq!(v("1"), Ok(1));
        assert_eq!(v("1n"), Ok(1));
        assert_eq!(v("100m"), Ok(1));
        assert_eq!(v("1Gi"), Ok(1 << 30));
        // math.go negativeScaleInt64 rounds away from zero: -1.5 -> -2, -0.5 -> -1.
        assert_eq!(v("-1.5"), Ok(-2));
        assert_eq!(v("-0.5"), Ok(-1));
        assert_eq!(v("-2"), Ok(-2));
        assert_eq!(v("0"), Ok(0));
        assert_eq!(v("9Ei"), Ok(i64::MAX));
        assert_eq!(v("100E"), Ok(i64::MAX));
        assert_eq!(v("-100E"), Ok(i64::MIN));
        assert_eq!(Quantity::from_units(i64::MIN).value(), i64::MIN);
    }

    #[test]
    fn constructors_agree_with_parsing() {
        assert_eq!(
            Quantity::from_units(1),
            Quantity::parse("1").unwrap_or_default()
        );
        assert_eq!(
            Quantity::from_millis(1),
            Quantity::parse("1m").unwrap_or_default()
        );
        assert_eq!(Quantity::from_units(-3).nanos(), -3 * NANOS_PER_UNIT);
        assert!(Quantity::ZERO.is_zero());
        assert!(!Quantity::from_nanos(1).is_zero());
        assert_eq!("250m".parse::<Quantity>(), Ok(Quantity::from_millis(250)));
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        let a = Quantity::from_millis(1500);
        let b = Quantity::from_units(1);
        assert_eq!(a.checked_add(b), Some(Quantity::from_millis(2500)));
        assert_eq!(a.checked_sub(b), Some(Quantity::from_millis(500)));
        assert_eq!(b.checked_sub(a), Some(Quantity::from_millis(-500)));
        let max = Quantity::from_nanos(i128::MAX);
        assert_eq!(max.checked_add(Quantity::from_nanos(1)), None);
        assert_eq!(
            Quantity::from_nanos(i128::MIN).checked_sub(Quantity::from_nanos(1)),
            None
        );
        assert_eq!(Quantity::from_nanos(i128::MIN).checked_neg(), None);
        assert!(Quantity::from_millis(-1) < Quantity::ZERO);
        assert!(
            Quantity::parse("1Gi").unwrap_or_default() > Quantity::parse("1G").unwrap_or_default()
        );
    }

    #[test]
    fn deserializes_strings_and_numbers_like_upstream_unmarshal_json() {
        let de = |json: &str| serde_json::from_str::<Quantity>(json).map_err(|e| e.to_string());
        let u = NANOS_PER_UNIT;
        assert_eq!(
            de("\"500Mi\"").map(Quantity::nanos),
            Ok(500 * (1 << 20) * u)
        );
        assert_eq!(de("2").map(Quantity::nanos), Ok(2 * u));
        assert_eq!(de("0.5").map(Quantity::nanos), Ok(u / 2));
        assert_eq!(de("-1").map(Quantity::nanos), Ok(-u));
        assert_eq!(de("0.1").map(Quantity::nanos), Ok(u / 10));
        assert_eq!(de("1e3").map(Quantity::nanos), Ok(1000 * u));
        assert_eq!(
            de("18446744073709551615").map(Quantity::nanos),
            Ok(u64::MAX as i128 * u)
        );
        // TestJSONWhitespace: surrounding whitespace inside the string is trimmed.
        assert_eq!(de("\" 1\"").map(Quantity::nanos), Ok(u));
        assert_eq!(de("\"1 \"").map(Quantity::nanos), Ok(u));
        assert_eq!(de(" -1 ").map(Quantity::nanos), Ok(-u));
        assert_eq!(de("null"), Ok(Quantity::ZERO));
        assert!(de("true").is_err());
    }

    #[test]
    fn deserialize_error_names_the_bad_input() {
        let err = serde_json::from_str::<Quantity>("\"12Qi\"").unwrap_err();
        assert!(err.to_string().contains("12Qi"), "{err}");
        assert!(err.to_string().contains("regular expression"), "{err}");
    }

    #[test]
    fn serializes_as_the_canonical_string() {
        let json = serde_json::to_string(&Quantity::from_millis(500)).unwrap_or_default();
        assert_eq!(json, "\"500m\"");
        let list = vec![
            Quantity::from_units(2),
            Quantity::parse("1Gi").unwrap_or_default(),
        ];
        let json = serde_json::to_string(&list).unwrap_or_default();
        assert_eq!(json, "[\"2\",\"1073741824\"]");
        assert_eq!(
            serde_json::from_str::<Vec<Quantity>>(&json).ok(),
            Some(list)
        );
    }

    fn decimal_suffix() -> impl Strategy<Value = (&'static str, i32)> {
        prop::sample::select(vec![
            ("n", -9),
            ("u", -6),
            ("m", -3),
            ("", 0),
            ("k", 3),
            ("M", 6),
            ("G", 9),
            ("T", 12),
            ("P", 15),
            ("E", 18),
        ])
    }

    /// ceil(m * 10^pow10) for m >= 0 by plain i128 arithmetic (the test's own reference);
    /// `None` when it does not fit.
    fn reference_ceil(m: i128, pow10: i32) -> Option<i128> {
        if pow10 >= 0 {
            m.checked_mul(10i128.checked_pow(pow10.unsigned_abs())?)
        } else {
            let d = 10i128.pow(pow10.unsigned_abs());
            Some((m + d - 1) / d)
        }
    }

    fn expected_nanos(text: &str, reference: Option<i128>) -> Result<i128, QuantityError> {
        reference.ok_or_else(|| QuantityError::too_large(text))
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(n in any::<i128>()) {
            let q = Quantity::from_nanos(n);
            prop_assert_eq!(Quantity::parse(&q.to_string()), Ok(q));
        }

        #[test]
        fn display_then_parse_round_trips_for_round_numbers(m in -1_000_000i128..1_000_000, e in 0u32..30) {
            let q = Quantity::from_nanos(m * 10i128.pow(e));
            prop_assert_eq!(Quantity::parse(&q.to_string()), Ok(q));
        }

        #[test]
        fn parse_never_panics_on_arbitrary_strings(s in ".*") {
            let _ = Quantity::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_near_valid_strings(
            s in "[+-]{0,2}[0-9]{0,25}(\\.[0-9]{0,25})?[.]?[eEinumkKMGTP]{0,3}[+-]?[0-9]{0,12}[ a-z]?"
        ) {
            if let Ok(q) = Quantity::parse(&s) {
                // Whatever parses prints canonically and parses back to itself.
                prop_assert_eq!(Quantity::parse(&q.to_string()), Ok(q));
            }
        }

        #[test]
        fn decimal_si_strings_match_a_reference_computation(
            int in 0u64..1_000_000_000_000,
            frac in "[0-9]{0,12}",
            (suffix, exponent) in decimal_suffix(),
            negative in any::<bool>(),
        ) {
            let text = format!("{}{int}.{frac}{suffix}", if negative { "-" } else { "" });
            let digits: i128 = format!("{int}{frac}").parse().unwrap_or_default();
            let pow10 = exponent + 9 - frac.len() as i32;
            let expected = reference_ceil(digits, pow10).map(|e| if negative { -e } else { e });
            prop_assert_eq!(
                Quantity::parse(&text).map(Quantity::nanos),
                expected_nanos(&text, expected),
                "{}", text
            );
        }

        #[test]
        fn binary_si_strings_match_a_reference_computation(
            int in 0u64..100_000,
            frac in "[0-9]{0,8}",
            shift in prop::sample::select(vec![10u32, 20, 30, 40]),
        ) {
            let suffix = match shift { 10 => "Ki", 20 => "Mi", 30 => "Gi", _ => "Ti" };
            let text = format!("{int}.{frac}{suffix}");
            let digits: i128 = format!("{int}{frac}").parse().unwrap_or_default();
            let expected = reference_ceil(digits << shift, 9 - frac.len() as i32);
            prop_assert_eq!(
                Quantity::parse(&text).map(Quantity::nanos),
                expected_nanos(&text, expected),
                "{}", text
            );
        }

        #[test]
        fn exponent_strings_match_a_reference_computation(
            m in 0u64..1_000_000_000,
            e in -20i32..18,
        ) {
            let text = format!("{m}e{e}");
            prop_assert_eq!(
                Quantity::parse(&text).map(Quantity::nanos),
                expected_nanos(&text, reference_ceil(i128::from(m), e + 9)),
                "{}", text
            );
        }

        #[test]
        fn value_and_milli_value_round_away_from_zero(n in any::<i64>()) {
            let q = Quantity::from_nanos(i128::from(n));
            let exact_units = i128::from(n) as f64 / 1e9;
            let v = q.value();
            prop_assert!((v as f64 - exact_units).abs() <= 1.0);
            prop_assert!(i128::from(v).abs() * NANOS_PER_UNIT >= i128::from(n).abs());
            prop_assert_eq!(v.signum(), n.signum());
            let mv = q.milli_value();
            prop_assert!(i128::from(mv).abs() * NANOS_PER_MILLI >= i128::from(n).abs());
            prop_assert!(i128::from(mv).abs() * NANOS_PER_MILLI < i128::from(n).abs() + NANOS_PER_MILLI);
        }
    }
}
