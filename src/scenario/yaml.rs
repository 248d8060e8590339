//! YAML (and JSON) parsing into [`serde_json::Value`] with a table of source positions.
//!
//! Scenario files and the Kubernetes object files they include (what `kubectl get -o yaml`
//! or `-o json` prints, multi-document YAML, `kind: List`) are parsed here into plain
//! [`serde_json::Value`]s. Typed deserialization happens later on those values, and a value
//! has no positions, so every document also carries a [`Locations`] table that maps a *field
//! path* such as `spec.objects[3].spec.replicas` to the 1-based line and column where that
//! value starts in the source. An error found later at some path can then be reported as
//! `file:line:column: spec.objects[3].spec.replicas: ...` with [`Locations::nearest`].
//!
//! JSON is parsed by the same YAML parser (`saphyr-parser`): a JSON text is a YAML 1.2 flow
//! document, so `.json` files get the same positions and the same errors. One difference is
//! bridged: JSON writes characters outside the Basic Multilingual Plane as escaped UTF-16
//! surrogate pairs (`"\ud83d\ude00"`, what Python's `json.dump` writes by default), which YAML
//! rejects. When the parser fails on such an escape and the whole text is valid JSON, the
//! pairs are rewritten as YAML's `\U0001F600` and the text is parsed again; reported columns
//! are corrected back to the original text. (Duplicate keys are still errors in JSON input.)
//! JSON keys may be longer than the 1,024 characters YAML allows for block implicit keys.
//!
//! # Field paths
//!
//! Paths are built only with [`path_key`] and [`path_index`]: map keys are joined with `.`,
//! sequence indices are written `[i]`, and the root is the empty string, e.g.
//! `spec.objects[3].metadata.name`, or `[0].name` for an element of a top-level sequence.
//! This is the format in which `serde_path_to_error::Path` displays a path (except that it
//! shows the root as `.`). Keys are not escaped: a key such as `alibabacloud.com/gpu-count`
//! appears verbatim, so a path can be ambiguous in theory; [`Locations::nearest`] copes with
//! that by stripping segments until it finds a recorded ancestor.
//!
//! # What is recorded
//!
//! For every mapping value and every sequence element, the location of the *value node* is
//! recorded at its path, and the location of the root node is recorded at `""`. A node starts
//! at its first character: for a scalar its first character (or quote), for a flow
//! collection its `[` or `{`, for a block mapping its first key, for a block sequence its
//! first `-`. If a node has properties (an anchor `&a` or a tag `!!str`) the node starts at
//! the first property. An empty value (`key:` with nothing after it) is located at its
//! key's `:`. Columns count Unicode characters (not bytes), starting at 1; a leading byte
//! order mark is not counted.
//!
//! Values produced by an alias (`*a`) record only the alias itself, so any path inside an
//! alias expansion resolves (via [`Locations::nearest`]) to the `*a` that produced it. Keys
//! brought in by a merge key (`<<: *base`) are recorded at the location of the merged
//! mapping (the `*base` alias, or the inline `{...}`).
//!
//! # Scalars
//!
//! Plain (unquoted) scalars are resolved with the YAML 1.2 core schema:
//!
//! | source | value |
//! | --- | --- |
//! | `null`, `Null`, `NULL`, `~`, empty | null |
//! | `true`, `True`, `TRUE`, `false`, `False`, `FALSE` | bool |
//! | `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+` | integer: `i64`, or `u64` if positive and larger, beyond that `f64` |
//! | `[-+]?(\.[0-9]+\|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` | `f64` |
//! | `[-+]?(\.inf\|\.Inf\|\.INF)`, `.nan`, `.NaN`, `.NAN` | a **string** with the source text |
//! | anything else | string |
//!
//! Infinities and NaN cannot be JSON numbers, so they are kept as the string of their source
//! text (e.g. `".inf"`); a float literal that overflows (`1e400`) is kept the same way.
//!
//! Decimal integers with leading zeros (`0123`) are decimal, as YAML 1.2 says. Note that
//! Kubernetes' own YAML library (sigs.k8s.io/yaml on top of go-yaml) follows YAML 1.1 for
//! some of these: there `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0123` is octal and
//! `1_000` is an integer. Here, following YAML 1.2, `yes`, `on`, `1_000` are strings and
//! `0123` is 123. Quote such values in scenario files to be unambiguous.
//!
//! Quoted scalars (single or double) and block scalars (`|`, `>`) are always strings.
//!
//! Explicit tags are honoured: `!!str` (any scalar becomes a string), `!!int`, `!!float`,
//! `!!bool`, `!!null` (the text must have that type's core-schema form, quoted or not, else
//! it is an error; `!!float 1` is `1.0`), `!!map` and `!!seq` (must be on a mapping / a
//! sequence), and the non-specific tag `!` (a scalar becomes a string). Any other tag,
//! e.g. `!foo` or `!!binary`, is an error naming the tag.
//!
//! # Mappings
//!
//! Keys become strings: a scalar key is used as its source text (after unquoting), whatever
//! its type, so `1.0: x` has the key `"1.0"` and `null: x` the key `"null"`. A mapping or
//! sequence used as a key is an error. A key that appears twice in one mapping is an error
//! at the second occurrence: `duplicate key "name" (first at 3:5)`.
//!
//! Anchors and aliases are resolved by deep copy. Merge keys are supported: a plain (not
//! quoted, not tagged) `<<` key whose value is a mapping or a sequence of mappings; keys
//! written in the mapping itself win over merged keys wherever they appear, and among several
//! merged mappings the earlier one wins.
//!
//! # Limits
//!
//! To bound the work done on hostile input ("billion laughs"), the values copied by alias
//! expansion (and the copy kept of each anchored collection, so that nested anchors cannot
//! multiply the work either) may hold at most [`MAX_ALIAS_NODES`] nodes in total per call of
//! [`parse_documents`], and collections may nest at most [`MAX_DEPTH`] deep (counting
//! alias expansions). Both are errors, not truncations. saphyr-parser itself stops flow
//! collections (`[`, `{`) at 255 levels, which is also reported as an error. The builder uses
//! an explicit stack (and saphyr-parser a state stack), so no input recurses without bound.
//!
//! Cost: linear in the input plus the alias expansion. The 625 KB, 1,213-document Node list
//! of the Alibaba GPU trace parses in about 0.3 s in a debug build (two thirds of it in
//! saphyr-parser's scanner) and 30 ms in a release build.
//!
//! # Documents
//!
//! [`parse_documents`] returns one [`Document`] per document of the stream. Empty documents
//! (only comments, an empty stream, a trailing `---`) are skipped; a document whose content is
//! an explicit `null` or `~` is kept. Anchors are local to their document.
//!
//! Syntax errors of the parser become [`SyntaxError`] with 1-based line and column.
//! saphyr-parser's `Marker` has a 1-based line and a 0-based column (in characters); both are
//! converted here.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// At most this many nodes may be copied for anchors and aliases in one stream.
pub const MAX_ALIAS_NODES: u64 = 1_000_000;

/// Collections may nest at most this deep.
pub const MAX_DEPTH: usize = 256;

/// 1-based line and column of a node's first character in the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl Location {
    /// Convert saphyr's marker (1-based line, 0-based column in characters) for a text in
    /// which `shifts` lists where escapes were shortened (see [`rewrite_json_surrogate_pairs`]).
    fn from_marker(marker: &Marker, shifts: &[(usize, usize)]) -> Location {
        let (line, column) = (marker.line(), marker.col());
        let shortened = if shifts.is_empty() {
            0
        } else {
            let first = shifts.partition_point(|&(l, _)| l < line);
            let end = shifts.partition_point(|&(l, c)| l < line || (l == line && c <= column));
            (end - first.min(end)) * SURROGATE_PAIR_SAVING
        };
        Location {
            line: saturating_u32(line),
            column: saturating_u32(column.saturating_add(shortened).saturating_add(1)),
        }
    }
}

fn saturating_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// The path of the value at `key` in the mapping at `parent`.
///
/// `path_key("", "spec") == "spec"`, `path_key("spec", "objects") == "spec.objects"`.
#[must_use]
pub fn path_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        let mut path = String::with_capacity(parent.len() + 1 + key.len());
        path.push_str(parent);
        path.push('.');
        path.push_str(key);
        path
    }
}

/// The path of element `index` of the sequence at `parent`.
///
/// `path_index("spec.objects", 3) == "spec.objects[3]"`, `path_index("", 0) == "[0]"`.
#[must_use]
pub fn path_index(parent: &str, index: usize) -> String {
    use fmt::Write as _;
    let mut path = String::with_capacity(parent.len() + 6);
    path.push_str(parent);
    let _ = write!(path, "[{index}]");
    path
}

/// The path with its last segment (`.key` or `[i]`) removed; `None` for the root.
fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']')
        && let Some(open) = path.rfind('[')
    {
        return Some(&path[..open]);
    }
    Some(path.rfind('.').map_or("", |dot| &path[..dot]))
}

/// A table from field path to the source location of the value at that path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Locations {
    map: BTreeMap<String, Location>,
    /// Returned by [`Locations::nearest`] when no ancestor is recorded.
    fallback: Option<Location>,
}

impl Locations {
    /// The location recorded for exactly `path`.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<Location> {
        self.map.get(path).copied()
    }

    /// The location of `path`, or of its nearest ancestor that has one (strip trailing `[i]`
    /// / `.key` segments). The document start is the last resort.
    #[must_use]
    pub fn nearest(&self, path: &str) -> Option<Location> {
        let mut current = path;
        loop {
            if let Some(location) = self.map.get(current) {
                return Some(*location);
            }
            match parent_path(current) {
                Some(parent) => current = parent,
                None => return self.fallback,
            }
        }
    }

    /// A copy of the entries under `prefix`, re-rooted so that `prefix` becomes `""`.
    ///
    /// Used when one element of a `kind: List` or of `spec.objects` is handled on its own.
    /// The copy's last resort for [`Locations::nearest`] is `self.nearest(prefix)`.
    #[must_use]
    pub fn subtree(&self, prefix: &str) -> Locations {
        if prefix.is_empty() {
            return self.clone();
        }
        let mut map = BTreeMap::new();
        // All keys that start with `prefix` are contiguous in the ordered map.
        for (path, location) in self.map.range::<str, _>((
            std::ops::Bound::Included(prefix),
            std::ops::Bound::Unbounded,
        )) {
            let Some(rest) = path.strip_prefix(prefix) else {
                break;
            };
            let rerooted = if rest.is_empty() {
                ""
            } else if let Some(after_dot) = rest.strip_prefix('.') {
                after_dot
            } else if rest.starts_with('[') {
                rest
            } else {
                // A sibling such as `ab` for the prefix `a`.
                continue;
            };
            map.insert(rerooted.to_owned(), *location);
        }
        Locations {
            map,
            fallback: self.nearest(prefix),
        }
    }

    /// Record `location` at `path` (replacing any previous entry).
    pub fn insert(&mut self, path: String, location: Location) {
        self.map.insert(path, location);
    }

    /// Number of recorded paths.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no path is recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All recorded paths and locations, ordered by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Location)> {
        self.map
            .iter()
            .map(|(path, location)| (path.as_str(), *location))
    }
}

/// One parsed document of a stream.
#[derive(Clone, Debug)]
pub struct Document {
    /// The document's content.
    pub value: Value,
    /// Where each value of `value` starts in the source, by field path.
    pub locations: Locations,
    /// Where the document starts: its `---` if it has one, else its first node.
    pub start: Location,
}

/// A YAML or JSON text that could not be parsed, or that this module rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct SyntaxError {
    /// Where the problem is.
    pub location: Location,
    /// What the problem is.
    pub message: String,
}

impl SyntaxError {
    fn new(location: Location, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            location,
            message: message.into(),
        }
    }
}

/// Parse every document of a YAML stream (or a JSON text).
///
/// Empty documents (e.g. only comments, or a trailing `---`) are skipped.
///
/// # Errors
/// A [`SyntaxError`] at the first problem: invalid YAML, a duplicate key, an unknown or
/// misapplied tag, an unknown or recursive alias, a complex key, a bad merge, or a limit
/// ([`MAX_ALIAS_NODES`], [`MAX_DEPTH`]) exceeded.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, SyntaxError> {
    match parse_stream(text, &[]) {
        Err(error) if error.message.contains(INVALID_UNICODE_ESCAPE) => {
            match rewrite_json_surrogate_pairs(text) {
                Some((rewritten, shifts)) => parse_stream(&rewritten, &shifts),
                None => Err(error),
            }
        }
        result => result,
    }
}

fn parse_stream(text: &str, shifts: &[(usize, usize)]) -> Result<Vec<Document>, SyntaxError> {
    let mut builder = Builder::new(text, shifts);
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|error| {
            let message = match error.info() {
                // saphyr counts flow nesting in a u8.
                "recursion limit exceeded" => {
                    "flow collections nest too deep (the parser allows at most 255 levels of [ and {)"
                }
                info => info,
            };
            SyntaxError::new(Location::from_marker(error.marker(), shifts), message)
        })?;
        if event == Event::StreamEnd {
            break;
        }
        builder.on_event(event, span)?;
    }
    Ok(builder.documents)
}

/// saphyr's message for a `\u` escape that is not a Unicode scalar value (e.g. a surrogate).
const INVALID_UNICODE_ESCAPE: &str = "invalid Unicode character escape code";

/// `\uD83D\uDE00` (12 characters) becomes `\U0001F600` (10 characters).
const SURROGATE_PAIR_SAVING: usize = 2;

/// JSON writes a character outside the Basic Multilingual Plane as an escaped UTF-16
/// surrogate pair (`"\ud83d\ude00"`, as Python's `json.dump` does by default), which YAML
/// does not accept. If `text` is valid JSON and has such pairs, return it with each pair
/// written as YAML's `\U0001F600`, and the places (1-based line, 0-based column in the new
/// text, just after each rewritten escape) where the text got shorter, in order.
fn rewrite_json_surrogate_pairs(text: &str) -> Option<(String, Vec<(usize, usize)>)> {
    if !text.contains("\\u") || serde_json::from_str::<Value>(text).is_err() {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut shifts = Vec::new();
    let (mut line, mut column) = (1_usize, 0_usize);
    let (mut i, mut copied) = (0_usize, 0_usize);
    let mut in_string = false;
    while i < bytes.len() {
        let byte = bytes[i];
        if in_string && byte == b'\\' {
            if let Some(c) = text.get(i..).and_then(surrogate_pair) {
                out.push_str(&text[copied..i]);
                out.push_str(&format!("\\U{:08X}", u32::from(c)));
                i += 12;
                copied = i;
                column += 10;
                shifts.push((line, column));
            } else {
                // In valid JSON the escaped character is ASCII.
                i += 2;
                column += 2;
            }
            continue;
        }
        match byte {
            b'"' => in_string = !in_string,
            b'\n' => {
                (line, column) = (line + 1, 0);
                i += 1;
                continue;
            }
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                (line, column) = (line + 1, 0);
                i += 1;
                continue;
            }
            _ => {}
        }
        if byte & 0xC0 != 0x80 {
            column += 1;
        }
        i += 1;
    }
    if shifts.is_empty() {
        return None;
    }
    out.push_str(&text[copied..]);
    Some((out, shifts))
}

/// The character of a JSON surrogate-pair escape `\uD83D\uDE00` at the start of `s`.
fn surrogate_pair(s: &str) -> Option<char> {
    let hex = |range: std::ops::Range<usize>| {
        let digits = s.get(range)?;
        if digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            u32::from_str_radix(digits, 16).ok()
        } else {
            None
        }
    };
    if !s.starts_with("\\u") || s.get(6..8) != Some("\\u") {
        return None;
    }
    let (high, low) = (hex(2..6)?, hex(8..12)?);
    if !(0xD800..0xDC00).contains(&high) || !(0xDC00..0xE000).contains(&low) {
        return None;
    }
    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
}

// ---------------------------------------------------------------------------------------------
// Scalar resolution (YAML 1.2 core schema).

const CORE_TAG_PREFIX: &str = "tag:yaml.org,2002:";

/// The tags this module understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KnownTag {
    Str,
    Int,
    Float,
    Bool,
    Null,
    Map,
    Seq,
    /// The non-specific tag `!`.
    NonSpecific,
}

fn full_tag(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

/// How a tag is written for a message: `!!int` rather than `tag:yaml.org,2002:int`.
fn tag_display(tag: &Tag) -> String {
    let full = full_tag(tag);
    match full.strip_prefix(CORE_TAG_PREFIX) {
        Some(suffix) => format!("!!{suffix}"),
        None => full,
    }
}

fn known_tag(tag: &Tag, location: Location) -> Result<KnownTag, SyntaxError> {
    let full = full_tag(tag);
    let known = match full.as_str() {
        "!" => Some(KnownTag::NonSpecific),
        other => match other.strip_prefix(CORE_TAG_PREFIX) {
            Some("str") => Some(KnownTag::Str),
            Some("int") => Some(KnownTag::Int),
            Some("float") => Some(KnownTag::Float),
            Some("bool") => Some(KnownTag::Bool),
            Some("null") => Some(KnownTag::Null),
            Some("map") => Some(KnownTag::Map),
            Some("seq") => Some(KnownTag::Seq),
            _ => None,
        },
    };
    known.ok_or_else(|| {
        SyntaxError::new(
            location,
            format!(
                "unknown tag \"{}\" (supported: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq, !)",
                tag_display(tag)
            ),
        )
    })
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Digits of `text` in `radix` as an integer value: `i64`/`u64` when it fits, else `f64`.
fn integer_from_digits(negative: bool, digits: &str, radix: u32) -> Option<Value> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if let Ok(magnitude) = u64::from_str_radix(digits, radix) {
        if !negative {
            return Some(Value::Number(Number::from(magnitude)));
        }
        if let Ok(positive) = i64::try_from(magnitude) {
            return Some(Value::Number(Number::from(-positive)));
        }
        if magnitude == i64::MIN.unsigned_abs() {
            return Some(Value::Number(Number::from(i64::MIN)));
        }
    }
    // Too large for a 64-bit integer: fall back to the nearest float.
    let magnitude = if radix == 10 {
        digits.parse::<f64>().ok()?
    } else if let Ok(wide) = u128::from_str_radix(digits, radix) {
        wide as f64
    } else {
        // Beyond 2^128: accumulate (the rounding error is far below any real use).
        digits.chars().try_fold(0.0_f64, |acc, c| {
            Some(acc * f64::from(radix) + f64::from(c.to_digit(radix)?))
        })?
    };
    let float = if negative { -magnitude } else { magnitude };
    Number::from_f64(float).map(Value::Number)
}

/// A core-schema integer, or `None` if `text` is not one.
fn parse_int(text: &str) -> Option<Value> {
    if let Some(octal) = text.strip_prefix("0o") {
        return integer_from_digits(false, octal, 8);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return integer_from_digits(false, hex, 16);
    }
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    integer_from_digits(negative, digits, 10)
}

/// Whether `text` matches `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float_syntax(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    let count_digits = |from: usize| {
        bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let integer_digits = count_digits(i);
    i += integer_digits;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let fraction_digits = count_digits(i);
        i += fraction_digits;
        if integer_digits == 0 && fraction_digits == 0 {
            return false;
        }
    } else if integer_digits == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exponent_digits = count_digits(i);
        if exponent_digits == 0 {
            return false;
        }
        i += exponent_digits;
    }
    i == bytes.len()
}

fn is_inf_or_nan(text: &str) -> bool {
    let unsigned = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN")
}

/// A core-schema float (or integer read as a float), or `None` if `text` is not one.
/// Non-finite values become the string of their source text.
fn parse_float(text: &str) -> Option<Value> {
    if is_inf_or_nan(text) {
        return Some(Value::String(text.to_owned()));
    }
    if is_float_syntax(text) {
        let float: f64 = text.parse().ok()?;
        return Some(
            Number::from_f64(float).map_or_else(|| Value::String(text.to_owned()), Value::Number),
        );
    }
    None
}

/// Resolve an untagged plain scalar by the core schema.
fn resolve_plain(text: Cow<'_, str>) -> Value {
    if is_null(&text) {
        return Value::Null;
    }
    if let Some(b) = parse_bool(&text) {
        return Value::Bool(b);
    }
    // Cheap pre-check: every int or float starts with a digit, a sign or a dot.
    if matches!(
        text.as_bytes().first(),
        Some(b'0'..=b'9' | b'-' | b'+' | b'.')
    ) {
        if let Some(int) = parse_int(&text) {
            return int;
        }
        if let Some(float) = parse_float(&text) {
            return float;
        }
    }
    Value::String(text.into_owned())
}

/// Resolve a scalar with its style and optional tag.
fn resolve_scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Tag>,
    location: Location,
) -> Result<Value, SyntaxError> {
    let Some(tag) = tag else {
        return Ok(match style {
            ScalarStyle::Plain => resolve_plain(text),
            _ => Value::String(text.into_owned()),
        });
    };
    let invalid = |kind: &str| {
        let (tag, text) = (tag_display(tag), text.escape_debug());
        SyntaxError::new(
            location,
            format!("invalid {tag} value \"{text}\": not {kind}"),
        )
    };
    match known_tag(tag, location)? {
        KnownTag::Str | KnownTag::NonSpecific => Ok(Value::String(text.into_owned())),
        KnownTag::Null if is_null(&text) => Ok(Value::Null),
        KnownTag::Null => Err(invalid("null")),
        KnownTag::Bool => parse_bool(&text)
            .map(Value::Bool)
            .ok_or_else(|| invalid("a boolean")),
        KnownTag::Int => parse_int(&text).ok_or_else(|| invalid("an integer")),
        KnownTag::Float => match parse_float(&text) {
            Some(value) => Ok(value),
            None => match parse_int(&text) {
                Some(Value::Number(n)) => n
                    .as_f64()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
                    .ok_or_else(|| invalid("a float")),
                _ => Err(invalid("a float")),
            },
        },
        KnownTag::Map | KnownTag::Seq => Err(SyntaxError::new(
            location,
            format!("tag {} cannot be applied to a scalar", tag_display(tag)),
        )),
    }
}

/// Check the tag of a collection: only `!!map` on mappings, `!!seq` on sequences and `!`.
fn check_collection_tag(
    tag: Option<&Tag>,
    is_map: bool,
    location: Location,
) -> Result<(), SyntaxError> {
    let Some(tag) = tag else { return Ok(()) };
    match known_tag(tag, location)? {
        KnownTag::NonSpecific => Ok(()),
        KnownTag::Map if is_map => Ok(()),
        KnownTag::Seq if !is_map => Ok(()),
        _ => Err(SyntaxError::new(
            location,
            format!(
                "tag {} cannot be applied to a {}",
                tag_display(tag),
                if is_map { "mapping" } else { "sequence" }
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The event-driven builder.

/// Where a node that is being built goes once it is complete.
#[derive(Debug)]
enum Slot {
    /// The document's root.
    Root,
    /// The next element of the sequence on top of the stack.
    Element,
    /// The value of `key` in the mapping on top of the stack.
    Value(String),
    /// The value of a merge key `<<` in the mapping on top of the stack.
    Merge,
}

/// A value defined with an anchor.
struct Anchor {
    value: Value,
    /// Nodes in `value` (each scalar, sequence and mapping counts one).
    nodes: u64,
    /// Nesting depth of collections in `value` (0 for a scalar).
    height: usize,
    /// For a scalar, its source text (used when the alias is a mapping key).
    key_text: Option<String>,
}

enum Body {
    Sequence {
        items: Vec<Value>,
        /// Locations of the elements, kept only for the list of a merge key.
        item_locations: Option<Vec<Location>>,
    },
    Mapping {
        map: Map<String, Value>,
        /// Keys written in this mapping and their locations, in order.
        keys: Vec<(String, Location)>,
        /// Whether a merge key `<<` was written in this mapping.
        has_merge: bool,
        /// The key whose value comes next, if a key has been read.
        pending: Option<Slot>,
        /// Mappings to merge in at the end, each with the location of its node.
        merges: Vec<(Map<String, Value>, Location)>,
    },
}

/// A collection being built.
struct Frame {
    /// This collection's own field path ("" when locations are not recorded).
    path: String,
    /// Whether locations are recorded for this collection's children.
    record: bool,
    location: Location,
    anchor: usize,
    /// Where this collection goes once complete.
    slot: Slot,
    /// Nodes in this collection so far, itself included.
    nodes: u64,
    /// Nesting depth of collections in this collection so far, itself included.
    height: usize,
    body: Body,
}

struct DocumentState {
    start: Location,
    locations: Locations,
    root: Option<Value>,
    /// Whether the root is an empty plain scalar (an empty document).
    empty: bool,
}

struct Builder<'t> {
    text: &'t str,
    /// Byte offset of the start of each line, built when first needed.
    line_starts: Option<Vec<usize>>,
    documents: Vec<Document>,
    document: Option<DocumentState>,
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Anchor>,
    alias_nodes: u64,
    /// Where the text was shortened by [`rewrite_json_surrogate_pairs`] (usually empty).
    shifts: &'t [(usize, usize)],
}

/// Where a new node goes, and the path it is recorded at (`None`: not recorded).
struct Placement {
    slot: Slot,
    path: Option<String>,
}

impl<'t> Builder<'t> {
    fn new(text: &'t str, shifts: &'t [(usize, usize)]) -> Builder<'t> {
        Builder {
            text,
            line_starts: None,
            documents: Vec::new(),
            document: None,
            stack: Vec::new(),
            anchors: std::collections::HashMap::new(),
            alias_nodes: 0,
            shifts,
        }
    }

    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), SyntaxError> {
        let location = Location::from_marker(&span.start, self.shifts);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                self.stack.clear();
                self.anchors.clear();
                self.document = Some(DocumentState {
                    start: location,
                    locations: Locations {
                        map: BTreeMap::new(),
                        fallback: Some(location),
                    },
                    root: None,
                    empty: false,
                });
                Ok(())
            }
            Event::DocumentEnd => {
                if let Some(state) = self.document.take()
                    && let Some(value) = state.root
                    && !state.empty
                {
                    self.documents.push(Document {
                        value,
                        locations: state.locations,
                        start: state.start,
                    });
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.on_scalar(text, style, anchor, tag.as_deref(), location)
            }
            Event::Alias(id) => self.on_alias(id, span, location),
            Event::SequenceStart(anchor, tag) => {
                let location = self.sequence_location(span, tag.is_some() || anchor != 0);
                check_collection_tag(tag.as_deref(), false, location)?;
                self.start_collection(anchor, location, false)
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), true, location)?;
                self.start_collection(anchor, location, true)
            }
            Event::SequenceEnd | Event::MappingEnd => self.end_collection(location),
        }
    }

    fn document(&mut self, location: Location) -> Result<&mut DocumentState, SyntaxError> {
        self.document
            .as_mut()
            .ok_or_else(|| SyntaxError::new(location, "internal error: node outside a document"))
    }

    /// Decide where the node starting at `location` goes; for a mapping key, `None`.
    fn place(&mut self, location: Location) -> Result<Option<Placement>, SyntaxError> {
        let Some(frame) = self.stack.last_mut() else {
            let document = self.document(location)?;
            if document.root.is_some() {
                return Err(SyntaxError::new(
                    location,
                    "internal error: second root node in a document",
                ));
            }
            return Ok(Some(Placement {
                slot: Slot::Root,
                path: Some(String::new()),
            }));
        };
        match &mut frame.body {
            Body::Sequence { items, .. } => Ok(Some(Placement {
                slot: Slot::Element,
                path: frame.record.then(|| path_index(&frame.path, items.len())),
            })),
            Body::Mapping { pending, .. } => match pending.take() {
                None => Ok(None),
                Some(Slot::Value(key)) => {
                    let path = frame.record.then(|| path_key(&frame.path, &key));
                    Ok(Some(Placement {
                        slot: Slot::Value(key),
                        path,
                    }))
                }
                Some(slot) => Ok(Some(Placement { slot, path: None })),
            },
        }
    }

    fn record(&mut self, path: Option<String>, location: Location) -> Result<(), SyntaxError> {
        if let Some(path) = path {
            // Ancestors are recorded before descendants; if two paths spell the same (a key
            // "" or a key with a dot in it), the first one recorded keeps its entry.
            self.document(location)?
                .locations
                .map
                .entry(path)
                .or_insert(location);
        }
        Ok(())
    }

    /// Whether the next node is a mapping key.
    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                body: Body::Mapping { pending: None, .. },
                ..
            })
        )
    }

    /// Read a mapping key (its text and location) into the mapping on top of the stack.
    fn on_key(
        &mut self,
        key: String,
        is_merge: bool,
        location: Location,
    ) -> Result<(), SyntaxError> {
        let Some(Frame {
            body:
                Body::Mapping {
                    map,
                    keys,
                    pending,
                    has_merge,
                    ..
                },
            ..
        }) = self.stack.last_mut()
        else {
            return Err(SyntaxError::new(
                location,
                "internal error: key outside a mapping",
            ));
        };
        // Explicit keys are in `map` once their value is complete, which is before the next
        // key is read; so `map` (and the merge flag) tell whether the key was seen.
        let seen = if is_merge {
            *has_merge
        } else {
            map.contains_key(&key)
        };
        if seen {
            let first = keys
                .iter()
                .find(|(k, _)| *k == key)
                .map_or_else(|| "?".to_owned(), |(_, first)| first.to_string());
            return Err(SyntaxError::new(
                location,
                format!(
                    "duplicate key \"{}\" (first at {first})",
                    key.escape_debug()
                ),
            ));
        }
        keys.push((key.clone(), location));
        if is_merge {
            *has_merge = true;
            *pending = Some(Slot::Merge);
        } else {
            *pending = Some(Slot::Value(key));
        }
        Ok(())
    }

    fn on_scalar(
        &mut self,
        text: Cow<'_, str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        location: Location,
    ) -> Result<(), SyntaxError> {
        if self.expects_key() {
            let is_merge = text == "<<" && style == ScalarStyle::Plain && tag.is_none();
            if anchor != 0 || tag.is_some() {
                // Resolve to check the tag, and to keep the value for aliases.
                let value = resolve_scalar(Cow::Borrowed(&text), style, tag, location)?;
                if anchor != 0 {
                    let anchored = Anchor {
                        value,
                        nodes: 1,
                        height: 0,
                        key_text: Some(text.to_string()),
                    };
                    self.anchors.insert(anchor, anchored);
                }
            }
            return self.on_key(text.into_owned(), is_merge, location);
        }
        let Some(placement) = self.place(location)? else {
            return Err(SyntaxError::new(location, "internal error: unexpected key"));
        };
        if matches!(placement.slot, Slot::Root)
            && text.is_empty()
            && style == ScalarStyle::Plain
            && tag.is_none()
            && anchor == 0
        {
            self.document(location)?.empty = true;
        }
        let key_text = (anchor != 0).then(|| text.to_string());
        let value = resolve_scalar(text, style, tag, location)?;
        if anchor != 0 {
            let anchored = Anchor {
                value: value.clone(),
                nodes: 1,
                height: 0,
                key_text,
            };
            self.anchors.insert(anchor, anchored);
        }
        self.record(placement.path, location)?;
        self.finish(placement.slot, value, 1, 0, location, None)
    }

    fn on_alias(&mut self, id: usize, span: Span, location: Location) -> Result<(), SyntaxError> {
        let Some(anchor) = self.anchors.get(&id) else {
            let name = self.source_text(span).unwrap_or("*?").to_owned();
            let message = if self.stack.iter().any(|frame| frame.anchor == id) {
                format!("alias {name} refers to a node that contains it (recursive alias)")
            } else {
                format!("unknown alias {name}")
            };
            return Err(SyntaxError::new(location, message));
        };
        let (nodes, height) = (anchor.nodes, anchor.height);
        self.charge_copy(nodes, location)?;
        if self.stack.len() + height > MAX_DEPTH {
            return Err(SyntaxError::new(
                location,
                format!("alias expansion nests collections more than {MAX_DEPTH} deep"),
            ));
        }
        let placement = self.place(location)?;
        let anchor = self.anchors.get(&id);
        let Some(placement) = placement else {
            let Some(key) = anchor.and_then(|anchor| anchor.key_text.clone()) else {
                return Err(SyntaxError::new(
                    location,
                    "an alias used as a mapping key must refer to a scalar",
                ));
            };
            return self.on_key(key, false, location);
        };
        let value = anchor.map_or(Value::Null, |anchor| anchor.value.clone());
        self.record(placement.path, location)?;
        self.finish(placement.slot, value, nodes, height, location, None)
    }

    /// Count `nodes` copied for an anchor or an alias against [`MAX_ALIAS_NODES`].
    fn charge_copy(&mut self, nodes: u64, location: Location) -> Result<(), SyntaxError> {
        self.alias_nodes = self.alias_nodes.saturating_add(nodes);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(SyntaxError::new(
                location,
                format!(
                    "anchors and aliases copy more than {MAX_ALIAS_NODES} nodes (a \"billion laughs\" document?)"
                ),
            ));
        }
        Ok(())
    }

    /// The location of a sequence: for an indentless block sequence (`key:\n- a`) saphyr
    /// reports the first element; point at its `-` instead.
    fn sequence_location(&mut self, span: Span, has_properties: bool) -> Location {
        let location = Location::from_marker(&span.start, self.shifts);
        if has_properties || span.start.index() != span.end.index() {
            return location;
        }
        let Some(line) = self.line(span.start.line()) else {
            return location;
        };
        if line.chars().nth(span.start.col()) == Some('-') {
            return location;
        }
        let indent = line.chars().take_while(|c| *c == ' ' || *c == '\t').count();
        let mut rest = line.chars().skip(indent);
        if rest.next() == Some('-') && rest.next().is_none_or(|c| c.is_whitespace()) {
            Location {
                line: location.line,
                column: saturating_u32(indent + 1),
            }
        } else {
            location
        }
    }

    /// The text of 1-based line `number`, without its line break.
    fn line(&mut self, number: usize) -> Option<&'t str> {
        let text = self.text;
        let starts = self.line_starts.get_or_insert_with(|| {
            let bytes = text.as_bytes();
            let mut starts = vec![0];
            for (i, b) in bytes.iter().enumerate() {
                let is_break = *b == b'\n' || (*b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
                if is_break {
                    starts.push(i + 1);
                }
            }
            starts
        });
        let start = *starts.get(number.checked_sub(1)?)?;
        let end = starts.get(number).copied().unwrap_or(text.len());
        let line = text.get(start..end)?;
        Some(line.trim_end_matches(['\n', '\r']))
    }

    /// The source text of a span that lies on one line.
    fn source_text(&mut self, span: Span) -> Option<&'t str> {
        if span.start.line() != span.end.line() {
            return None;
        }
        let line = self.line(span.start.line())?;
        let byte = |col: usize| {
            line.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(line.len()))
                .nth(col)
        };
        line.get(byte(span.start.col())?..byte(span.end.col())?)
    }

    fn start_collection(
        &mut self,
        anchor: usize,
        location: Location,
        is_map: bool,
    ) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(SyntaxError::new(
                location,
                format!("collections nest more than {MAX_DEPTH} deep"),
            ));
        }
        let Some(placement) = self.place(location)? else {
            return Err(SyntaxError::new(
                location,
                format!(
                    "a {} cannot be used as a mapping key: keys must be scalars",
                    if is_map { "mapping" } else { "sequence" }
                ),
            ));
        };
        let is_merge = matches!(placement.slot, Slot::Merge);
        let record = placement.path.is_some();
        let path = placement.path.clone().unwrap_or_default();
        self.record(placement.path, location)?;
        let body = if is_map {
            Body::Mapping {
                map: Map::new(),
                keys: Vec::new(),
                has_merge: false,
                pending: None,
                merges: Vec::new(),
            }
        } else {
            Body::Sequence {
                items: Vec::new(),
                item_locations: is_merge.then(Vec::new),
            }
        };
        self.stack.push(Frame {
            path,
            record,
            location,
            anchor,
            slot: placement.slot,
            nodes: 1,
            height: 1,
            body,
        });
        Ok(())
    }

    fn end_collection(&mut self, end: Location) -> Result<(), SyntaxError> {
        let Some(frame) = self.stack.pop() else {
            return Err(SyntaxError::new(
                end,
                "internal error: unbalanced collection end",
            ));
        };
        let document = self.document(end)?;
        let mut item_locations = None;
        let value = match frame.body {
            Body::Sequence {
                items,
                item_locations: locations,
            } => {
                item_locations = locations;
                Value::Array(items)
            }
            Body::Mapping {
                mut map, merges, ..
            } => {
                for (source, location) in merges {
                    for (key, value) in source {
                        if !map.contains_key(&key) {
                            if frame.record {
                                document
                                    .locations
                                    .map
                                    .entry(path_key(&frame.path, &key))
                                    .or_insert(location);
                            }
                            map.insert(key, value);
                        }
                    }
                }
                Value::Object(map)
            }
        };
        if frame.anchor != 0 {
            self.charge_copy(frame.nodes, frame.location)?;
            self.anchors.insert(
                frame.anchor,
                Anchor {
                    value: value.clone(),
                    nodes: frame.nodes,
                    height: frame.height,
                    key_text: None,
                },
            );
        }
        self.finish(
            frame.slot,
            value,
            frame.nodes,
            frame.height,
            frame.location,
            item_locations,
        )
    }

    /// Put a complete node into its slot. `item_locations` are the locations of the elements
    /// of a sequence written as the value of a merge key.
    fn finish(
        &mut self,
        slot: Slot,
        value: Value,
        nodes: u64,
        height: usize,
        location: Location,
        item_locations: Option<Vec<Location>>,
    ) -> Result<(), SyntaxError> {
        if let Slot::Root = slot {
            self.document(location)?.root = Some(value);
            return Ok(());
        }
        let Some(parent) = self.stack.last_mut() else {
            return Err(SyntaxError::new(
                location,
                "internal error: node without a parent",
            ));
        };
        parent.nodes = parent.nodes.saturating_add(nodes);
        parent.height = parent.height.max(height + 1);
        match (&mut parent.body, slot) {
            (
                Body::Sequence {
                    items,
                    item_locations,
                },
                Slot::Element,
            ) => {
                items.push(value);
                if let Some(locations) = item_locations {
                    locations.push(location);
                }
                Ok(())
            }
            (Body::Mapping { map, .. }, Slot::Value(key)) => {
                map.insert(key, value);
                Ok(())
            }
            (Body::Mapping { merges, .. }, Slot::Merge) => {
                const BAD_MERGE: &str =
                    "the value of a merge key `<<` must be a mapping or a sequence of mappings";
                match value {
                    Value::Object(source) => merges.push((source, location)),
                    Value::Array(items) => {
                        // A sequence written here has the locations of its elements; the
                        // elements of an alias to a sequence are located at the alias.
                        let mut locations = item_locations.unwrap_or_default().into_iter();
                        for item in items {
                            let item_location = locations.next().unwrap_or(location);
                            match item {
                                Value::Object(source) => merges.push((source, item_location)),
                                _ => return Err(SyntaxError::new(item_location, BAD_MERGE)),
                            }
                        }
                    }
                    _ => return Err(SyntaxError::new(location, BAD_MERGE)),
                }
                Ok(())
            }
            _ => Err(SyntaxError::new(location, "internal error: misplaced node")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    fn loc(line: u32, column: u32) -> Location {
        Location { line, column }
    }

    fn one(text: &str) -> Document {
        let mut documents = parse_documents(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(documents.len(), 1, "{text}");
        documents.remove(0)
    }

    fn value(text: &str) -> Value {
        one(text).value
    }

    fn error(text: &str) -> SyntaxError {
        match parse_documents(text) {
            Ok(documents) => panic!(
                "expected an error for {text:?}, got {:?}",
                documents.iter().map(|d| &d.value).collect::<Vec<_>>()
            ),
            Err(error) => error,
        }
    }

    #[test]
    fn paths_are_built_with_dots_and_brackets() {
        assert_eq!(path_key("", "spec"), "spec");
        assert_eq!(path_key("spec", "objects"), "spec.objects");
        assert_eq!(path_index("spec.objects", 3), "spec.objects[3]");
        assert_eq!(path_index("", 0), "[0]");
        assert_eq!(
            path_key(&path_index("spec.objects", 3), "metadata"),
            "spec.objects[3].metadata"
        );
        assert_eq!(loc(12, 7).to_string(), "12:7");
    }

    #[test]
    fn block_mappings_and_sequences_record_the_location_of_each_value_node() {
        let text = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: c1
    image: nginx
    ports:
      - containerPort: 80
      -   443
  - name: c2
  empty:
";
        let document = one(text);
        let l = &document.locations;
        assert_eq!(l.get(""), Some(loc(1, 1)));
        assert_eq!(l.get("apiVersion"), Some(loc(1, 13)));
        assert_eq!(l.get("metadata"), Some(loc(4, 3)));
        assert_eq!(l.get("metadata.name"), Some(loc(4, 9)));
        assert_eq!(l.get("metadata.labels"), Some(loc(6, 5)));
        assert_eq!(l.get("metadata.labels.app"), Some(loc(6, 10)));
        // An indentless sequence starts at its first `-`.
        assert_eq!(l.get("spec.containers"), Some(loc(9, 3)));
        assert_eq!(l.get("spec.containers[0]"), Some(loc(9, 5)));
        assert_eq!(l.get("spec.containers[0].image"), Some(loc(10, 12)));
        // An indented block sequence starts at its first `-` too.
        assert_eq!(l.get("spec.containers[0].ports"), Some(loc(12, 7)));
        assert_eq!(
            l.get("spec.containers[0].ports[0].containerPort"),
            Some(loc(12, 24))
        );
        assert_eq!(l.get("spec.containers[0].ports[1]"), Some(loc(13, 11)));
        assert_eq!(l.get("spec.containers[1].name"), Some(loc(14, 11)));
        // An empty value is located at its key's `:`.
        assert_eq!(l.get("spec.empty"), Some(loc(15, 8)));
        assert_eq!(document.value["spec"]["empty"], Value::Null);
        assert_eq!(
            document.value["spec"]["containers"][0]["ports"][1],
            json!(443)
        );
        assert_eq!(document.start, loc(1, 1));
    }

    #[test]
    fn flow_collections_are_located_at_their_brackets() {
        let text = "a: [1, {b: x, c: [y]}]\nd: {e: 1,\n    f: [ ]}\n";
        let l = one(text).locations;
        assert_eq!(l.get("a"), Some(loc(1, 4)));
        assert_eq!(l.get("a[0]"), Some(loc(1, 5)));
        assert_eq!(l.get("a[1]"), Some(loc(1, 8)));
        assert_eq!(l.get("a[1].b"), Some(loc(1, 12)));
        assert_eq!(l.get("a[1].c"), Some(loc(1, 18)));
        assert_eq!(l.get("a[1].c[0]"), Some(loc(1, 19)));
        assert_eq!(l.get("d"), Some(loc(2, 4)));
        assert_eq!(l.get("d.f"), Some(loc(3, 8)));
    }

    #[test]
    fn json_spread_over_lines_is_located_like_yaml() {
        let text = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "metadata": {"name": "n0"},
            "replicas": 3
        },
	{"x": null}
    ]
}"#;
        let document = one(text);
        let l = &document.locations;
        assert_eq!(l.get(""), Some(loc(1, 1)));
        assert_eq!(l.get("apiVersion"), Some(loc(2, 19)));
        assert_eq!(l.get("items"), Some(loc(3, 14)));
        assert_eq!(l.get("items[0]"), Some(loc(4, 9)));
        assert_eq!(l.get("items[0].metadata"), Some(loc(5, 25)));
        assert_eq!(l.get("items[0].metadata.name"), Some(loc(5, 34)));
        assert_eq!(l.get("items[0].replicas"), Some(loc(6, 25)));
        // A tab counts as one column.
        assert_eq!(l.get("items[1]"), Some(loc(8, 2)));
        assert_eq!(l.get("items[1].x"), Some(loc(8, 8)));
        assert_eq!(
            document.value,
            json!({"apiVersion": "v1", "items": [{"metadata": {"name": "n0"}, "replicas": 3}, {"x": null}]})
        );
    }

    #[test]
    fn json_without_spaces_after_colons_parses() {
        assert_eq!(
            value(r#"{"a":1,"b":[true,"x"],"c":{}}"#),
            json!({"a": 1, "b": [true, "x"], "c": {}})
        );
    }

    #[test]
    fn json_surrogate_pair_escapes_are_accepted_and_columns_stay_true() {
        let text = "{\"a\": [\"\\ud83d\\ude00 \\uD83D\\uDE01\", 7],\r\n \"b\": \"\\u00e9\\\\ud83d\", \"c\": 1}";
        let document = one(text);
        assert_eq!(
            document.value,
            json!({"a": ["\u{1F600} \u{1F601}", 7], "b": "é\\ud83d", "c": 1})
        );
        let expected: Value = serde_json::from_str(text).unwrap();
        assert_eq!(document.value, expected);
        let l = &document.locations;
        assert_eq!(l.get("a[0]"), Some(loc(1, 8)));
        assert_eq!(l.get("a[1]"), Some(loc(1, 37)));
        assert_eq!(l.get("b"), Some(loc(2, 7)));
        assert_eq!(l.get("c"), Some(loc(2, 29)));
        // An error after a rewritten pair is reported at its place in the original text.
        let e = error("{\"x\": \"\\ud83d\\ude00\", \"x\": 2}");
        assert_eq!(e.to_string(), "1:23: duplicate key \"x\" (first at 1:2)");
        // In YAML that is not JSON, the escape stays an error.
        assert!(
            error("a: \"\\ud83d\\ude00\"\nb: [\n")
                .message
                .contains("escape")
        );
    }

    #[test]
    fn json_keys_longer_than_1024_characters_are_accepted() {
        let key = "k".repeat(5000);
        let text = format!("{{\n  \"{key}\": 1\n}}");
        assert_eq!(value(&text), json!({ key.clone(): 1 }));
        // A block (implicit) key is limited to 1024 characters by the YAML spec.
        assert!(parse_documents(&format!("{key}: 1\n")).is_err());
    }

    #[test]
    fn columns_count_characters_and_ignore_a_byte_order_mark_and_crlf() {
        let l = one("\u{feff}a: 1\r\nnamé: ünï\r\nb: [\r\n  2]\r\n").locations;
        assert_eq!(l.get("a"), Some(loc(1, 4)));
        assert_eq!(l.get("namé"), Some(loc(2, 7)));
        assert_eq!(l.get("b[0]"), Some(loc(4, 3)));
    }

    #[test]
    fn nodes_with_anchors_or_tags_start_at_their_first_property() {
        let l = one("a: &x 1\nb: !!str 2\nc: &y\n  - 3\n").locations;
        assert_eq!(l.get("a"), Some(loc(1, 4)));
        assert_eq!(l.get("b"), Some(loc(2, 4)));
        assert_eq!(l.get("c"), Some(loc(3, 4)));
        assert_eq!(l.get("c[0]"), Some(loc(4, 5)));
    }

    #[test]
    fn every_document_of_a_stream_is_returned_and_empty_ones_are_skipped() {
        let text = "\
# leading comment
---
kind: A
---
# only a comment
---
kind: B
...
--- ~
---
- x
---
";
        let documents = parse_documents(text).unwrap();
        let values: Vec<&Value> = documents.iter().map(|d| &d.value).collect();
        assert_eq!(
            values,
            [
                &json!({"kind": "A"}),
                &json!({"kind": "B"}),
                &Value::Null,
                &json!(["x"])
            ]
        );
        let starts: Vec<Location> = documents.iter().map(|d| d.start).collect();
        assert_eq!(starts, [loc(2, 1), loc(6, 1), loc(9, 1), loc(10, 1)]);
        assert_eq!(documents[0].locations.get("kind"), Some(loc(3, 7)));
        assert_eq!(documents[1].locations.get("kind"), Some(loc(7, 7)));
        assert_eq!(documents[3].locations.get("[0]"), Some(loc(11, 3)));
        // An implicit first document starts at its first node.
        assert_eq!(
            parse_documents("# c\n\na: 1\n").unwrap()[0].start,
            loc(3, 1)
        );
        assert!(parse_documents("").unwrap().is_empty());
        assert!(parse_documents("# nothing\n").unwrap().is_empty());
        assert!(parse_documents("---\n---\n").unwrap().is_empty());
    }

    #[test]
    fn plain_scalars_are_typed_by_the_yaml_1_2_core_schema() {
        let table: &[(&str, Value)] = &[
            ("null", Value::Null),
            ("Null", Value::Null),
            ("NULL", Value::Null),
            ("~", Value::Null),
            ("", Value::Null),
            ("nULL", json!("nULL")),
            ("true", json!(true)),
            ("True", json!(true)),
            ("TRUE", json!(true)),
            ("false", json!(false)),
            ("False", json!(false)),
            ("FALSE", json!(false)),
            ("tRUE", json!("tRUE")),
            ("yes", json!("yes")),
            ("no", json!("no")),
            ("on", json!("on")),
            ("off", json!("off")),
            ("y", json!("y")),
            ("0", json!(0)),
            ("-0", json!(0)),
            ("+12", json!(12)),
            ("-12", json!(-12)),
            ("0123", json!(123)),
            ("0o17", json!(15)),
            ("0x1F", json!(31)),
            ("0xff", json!(255)),
            ("0X1F", json!("0X1F")),
            ("0o", json!("0o")),
            ("0x", json!("0x")),
            ("0o8", json!("0o8")),
            ("-0x1", json!("-0x1")),
            ("1_000", json!("1_000")),
            ("9223372036854775807", json!(i64::MAX)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("9223372036854775808", json!(9_223_372_036_854_775_808_u64)),
            ("18446744073709551615", json!(u64::MAX)),
            (
                "18446744073709551616",
                json!(18_446_744_073_709_551_616.0_f64),
            ),
            (
                "-9223372036854775809",
                json!(-9_223_372_036_854_775_809.0_f64),
            ),
            (
                "0xffffffffffffffffff",
                json!(4_722_366_482_869_645_213_695.0_f64),
            ),
            ("1.5", json!(1.5)),
            ("-1.5", json!(-1.5)),
            ("1.", json!(1.0)),
            (".5", json!(0.5)),
            ("+.5", json!(0.5)),
            ("1e3", json!(1000.0)),
            ("1E-2", json!(0.01)),
            ("2.5e+2", json!(250.0)),
            ("1e", json!("1e")),
            ("e3", json!("e3")),
            (".", json!(".")),
            ("1.2.3", json!("1.2.3")),
            ("1e400", json!("1e400")),
            (".inf", json!(".inf")),
            ("-.Inf", json!("-.Inf")),
            ("+.INF", json!("+.INF")),
            (".nan", json!(".nan")),
            (".NaN", json!(".NaN")),
            ("inf", json!("inf")),
            ("nan", json!("nan")),
            ("64000m", json!("64000m")),
            ("262144Mi", json!("262144Mi")),
            ("1.2.3.4", json!("1.2.3.4")),
            ("12:30", json!("12:30")),
            ("2001-12-14", json!("2001-12-14")),
            ("hello world", json!("hello world")),
        ];
        for (text, expected) in table {
            let got = value(&format!("v: {text}\n"));
            assert_eq!(&got["v"], expected, "scalar {text:?}");
        }
        // A large integer keeps every digit; 1.0 stays a float.
        assert_eq!(
            value("v: 18446744073709551615")["v"].as_u64(),
            Some(u64::MAX)
        );
        assert!(value("v: 1.0")["v"].is_f64());
    }

    #[test]
    fn quoted_and_block_scalars_are_always_strings() {
        let text = "a: '1'\nb: \"2\"\nc: 'true'\nd: \"null\"\ne: ''\nf: |\n  3\ng: >-\n  4\n  5\nh: \"\\t\\u00e9\"\n";
        assert_eq!(
            value(text),
            json!({"a": "1", "b": "2", "c": "true", "d": "null", "e": "", "f": "3\n", "g": "4 5", "h": "\té"})
        );
    }

    #[test]
    fn explicit_core_tags_are_honoured() {
        let text = "\
a: !!str 12
b: !!int \"12\"
c: !!float 1
d: !!bool 'true'
e: !!null ''
f: ! 12
g: !!str
h: !!map {x: 1}
i: !!seq [1]
j: !<tag:yaml.org,2002:int> '7'
k: !!float '.inf'
l: !!int 0x10
";
        assert_eq!(
            value(text),
            json!({"a": "12", "b": 12, "c": 1.0, "d": true, "e": null, "f": "12", "g": "",
                   "h": {"x": 1}, "i": [1], "j": 7, "k": ".inf", "l": 16})
        );
    }

    #[test]
    fn unknown_or_misapplied_tags_are_errors_naming_the_tag() {
        let e = error("a: 1\nb: !foo 2\n");
        assert_eq!(e.location, loc(2, 4));
        assert!(e.message.contains("unknown tag \"!foo\""), "{e}");
        let e = error("a: !!binary aGVsbG8=\n");
        assert!(e.message.contains("unknown tag \"!!binary\""), "{e}");
        let e = error("a: !!int twelve\n");
        assert_eq!(e.location, loc(1, 4));
        assert!(
            e.message.contains("!!int") && e.message.contains("twelve"),
            "{e}"
        );
        assert!(error("a: !!bool yes\n").message.contains("!!bool"));
        assert!(error("a: !!null x\n").message.contains("!!null"));
        assert!(error("a: !!float x\n").message.contains("!!float"));
        let e = error("a: !!str {x: 1}\n");
        assert!(
            e.message.contains("!!str cannot be applied to a mapping"),
            "{e}"
        );
        assert!(
            error("a: !!map [1]\n")
                .message
                .contains("!!map cannot be applied to a sequence")
        );
        assert!(
            error("a: !!seq 1\n")
                .message
                .contains("!!seq cannot be applied to a scalar")
        );
        assert!(error("!foo x: 1\n").message.contains("!foo"));
    }

    #[test]
    fn mapping_keys_become_strings_using_their_source_text() {
        assert_eq!(
            value("1: a\n1.50: b\ntrue: c\nnull: d\n~: e\n'q': f\n? g\n: h\n: i\n"),
            json!({"1": "a", "1.50": "b", "true": "c", "null": "d", "~": "e", "q": "f", "g": "h", "": "i"})
        );
        assert_eq!(value("{0x10: a}"), json!({"0x10": "a"}));
    }

    #[test]
    fn a_collection_used_as_a_key_is_an_error() {
        let e = error("a: 1\n? [x, y]\n: 2\n");
        assert_eq!(e.location, loc(2, 3));
        assert!(e.message.contains("cannot be used as a mapping key"), "{e}");
        assert!(
            error("{{a: 1}: 2}")
                .message
                .contains("mapping cannot be used as a mapping key")
        );
        assert!(
            error("a: &x [1]\n*x : 2\n")
                .message
                .contains("must refer to a scalar")
        );
    }

    #[test]
    fn a_duplicate_key_is_an_error_at_the_second_key() {
        let text = "kind: Pod\nmetadata:\n    name: a\n    labels: {}\n    name: b\n";
        let e = error(text);
        assert_eq!(e.location, loc(5, 5));
        assert_eq!(e.message, "duplicate key \"name\" (first at 3:5)");
        assert_eq!(e.to_string(), "5:5: duplicate key \"name\" (first at 3:5)");
        let e = error("{\"a\": 1,\n \"a\": 2}");
        assert_eq!(e.location, loc(2, 2));
        assert_eq!(e.message, "duplicate key \"a\" (first at 1:2)");
        // Keys differing only in quoting are the same key.
        assert!(error("a: 1\n'a': 2\n").message.starts_with("duplicate key"));
    }

    #[test]
    fn a_syntax_error_is_reported_at_a_one_based_line_and_column() {
        // Bad indentation on line 3.
        let e = error("metadata:\n  name: a\n labels: {}\n");
        assert_eq!(e.location.line, 3, "{e}");
        assert_eq!(e.location, loc(3, 2), "{e}");
        // A value on the line after a key, indented wrongly.
        let e = error("a: 1\n b: 2\n");
        assert_eq!(e.location, loc(2, 3), "{e}");
        assert!(e.message.contains("mapping values are not allowed"), "{e}");
        // An unterminated flow sequence in JSON.
        let e = error("{\n  \"a\": [1, 2\n}\n");
        assert_eq!(e.location.line, 3, "{e}");
        // A tab used for indentation.
        assert!(parse_documents("a:\n\tb: 1\n").is_err());
        // Saphyr's own message says "line 2 column 3" for the same place: columns agree.
        let scan = Parser::new_from_str("a: 1\n b: 2\n")
            .find_map(Result::err)
            .unwrap();
        assert!(scan.to_string().ends_with("line 2 column 3"), "{scan}");
    }

    #[test]
    fn aliases_are_deep_copies_located_at_the_alias() {
        let text = "base: &b\n  x: 1\n  y: [1, 2]\ncopy: *b\nlist:\n- *b\n- &s str\n- *s\n";
        let document = one(text);
        assert_eq!(document.value["copy"], json!({"x": 1, "y": [1, 2]}));
        assert_eq!(
            document.value["list"],
            json!([{"x": 1, "y": [1, 2]}, "str", "str"])
        );
        let l = &document.locations;
        assert_eq!(l.get("copy"), Some(loc(4, 7)));
        assert_eq!(l.get("copy.y"), None);
        assert_eq!(l.nearest("copy.y[1]"), Some(loc(4, 7)));
        assert_eq!(l.get("list[2]"), Some(loc(8, 3)));
        // An alias can be a key when it refers to a scalar.
        assert_eq!(
            value("k: &k name\n*k : v\n"),
            json!({"k": "name", "name": "v"})
        );
    }

    #[test]
    fn merge_keys_merge_mappings_and_explicit_keys_win() {
        let text = "\
defaults: &d
  cpu: 1
  mem: 2
  zone: a
extra: &e
  zone: b
  gpu: 0
node:
  cpu: 8
  <<: [*e, *d]
  name: n1
inline:
  <<: {a: 1}
  b: 2
";
        let document = one(text);
        assert_eq!(
            document.value["node"],
            json!({"cpu": 8, "mem": 2, "zone": "b", "gpu": 0, "name": "n1"})
        );
        assert_eq!(document.value["inline"], json!({"a": 1, "b": 2}));
        let l = &document.locations;
        assert_eq!(l.get("node.cpu"), Some(loc(9, 8)));
        assert_eq!(l.get("node.zone"), Some(loc(10, 8)));
        assert_eq!(l.get("node.mem"), Some(loc(10, 12)));
        assert_eq!(l.get("inline.a"), Some(loc(13, 7)));
        assert_eq!(l.get("node.<<"), None);
        assert_eq!(
            value("a: &a {x: 1}\nb:\n  <<: *a\n"),
            json!({"a": {"x": 1}, "b": {"x": 1}})
        );
        // A quoted "<<" is an ordinary key.
        assert_eq!(value("'<<': 1\n"), json!({"<<": 1}));
        let e = error("a:\n  <<: 3\n");
        assert!(e.message.contains("merge key"), "{e}");
        let e = error("a: &a [1]\nb:\n  <<: [*a]\n");
        assert_eq!(e.location, loc(3, 8));
    }

    #[test]
    fn unknown_and_recursive_aliases_are_errors() {
        let e = error("a: *nope\n");
        assert!(
            e.message.contains("unknown anchor") || e.message.contains("unknown alias"),
            "{e}"
        );
        let e = error("a: &r [1, *r]\n");
        assert_eq!(e.location, loc(1, 11));
        assert!(
            e.message.contains("*r") && e.message.contains("recursive"),
            "{e}"
        );
        // Anchors do not cross documents.
        assert!(parse_documents("a: &x 1\n---\nb: *x\n").is_err());
    }

    #[test]
    // Wall-clock time is measured here only to report parsing speed, never in the library.
    #[allow(clippy::disallowed_methods)]
    fn an_alias_bomb_is_stopped_with_an_error_not_a_hang() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let started = Instant::now();
        let e = error(&text);
        assert!(e.message.contains("copy more than 1000000 nodes"), "{e}");
        assert!(started.elapsed().as_secs() < 10);
        // Nested anchors without any alias are bounded too: each level keeps a copy.
        let mut nested = String::new();
        for _ in 0..200 {
            nested.push_str("- &n\n");
        }
        nested = nested
            .lines()
            .enumerate()
            .map(|(i, line)| format!("{}{line}\n", "  ".repeat(i)))
            .collect();
        nested.push_str(&"  ".repeat(200));
        nested.push_str(&format!("[{}0]\n", "0, ".repeat(20_000)));
        let e = error(&nested);
        assert!(e.message.contains("copy more than"), "{e}");
        // A moderate use of aliases is fine.
        let small = "a: &a [1, 2]\nb: &b [*a, *a]\nc: [*b, *b]\n";
        assert_eq!(
            value(small)["c"],
            json!([[[1, 2], [1, 2]], [[1, 2], [1, 2]]])
        );
    }

    #[test]
    fn deep_nesting_is_stopped_with_an_error() {
        // Block mappings nested `depth` deep.
        let nested = |depth: usize| {
            let mut text = String::new();
            for i in 0..depth - 1 {
                text.push_str(&" ".repeat(i));
                text.push_str("k:\n");
            }
            text.push_str(&" ".repeat(depth - 1));
            text.push_str("k: 1\n");
            text
        };
        assert!(parse_documents(&nested(MAX_DEPTH)).is_ok());
        let e = error(&nested(MAX_DEPTH + 1));
        assert_eq!(e.message, "collections nest more than 256 deep");
        assert_eq!(e.location, loc(257, 257));
        // saphyr-parser itself stops flow collections at 255 levels.
        let flow = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse_documents(&flow(255)).is_ok());
        let e = error(&flow(256));
        assert!(e.message.contains("nest too deep"), "{e}");
        assert_eq!(e.location, loc(1, 256));
        // A huge unbalanced input stops early instead of exhausting the stack.
        assert!(parse_documents(&"[".repeat(1_000_000)).is_err());
        assert!(parse_documents(&"{a: ".repeat(100_000)).is_err());
        assert!(error(&nested(2_000)).message.contains("deep"));
        // Aliases cannot be used to nest deeper than the limit either.
        let half = MAX_DEPTH / 2 + 1;
        let text = format!(
            "a: &a {}{}\nb: {}*a{}\n",
            "[".repeat(half),
            "]".repeat(half),
            "[".repeat(half),
            "]".repeat(half)
        );
        assert!(error(&text).message.contains("deep"));
    }

    #[test]
    fn nearest_falls_back_to_ancestors_and_then_the_document_start() {
        let document = one("---\nspec:\n  objects:\n  - metadata:\n      name: a\n    x.y: [1]\n");
        let l = &document.locations;
        assert_eq!(l.nearest("spec.objects[0].metadata.name"), Some(loc(5, 13)));
        assert_eq!(
            l.nearest("spec.objects[0].metadata.namespace"),
            Some(loc(5, 7))
        );
        assert_eq!(l.get("spec.objects[0]"), Some(loc(4, 5)));
        assert_eq!(l.nearest("spec.objects[0].spec.replicas"), Some(loc(4, 5)));
        assert_eq!(l.nearest("spec.objects[7].kind"), Some(loc(4, 3)));
        assert_eq!(l.nearest("spec.objects[0].x.y[0]"), Some(loc(6, 11)));
        assert_eq!(l.nearest("spec.objects[0].x.y[3]"), Some(loc(6, 10)));
        assert_eq!(l.nearest("status"), Some(loc(2, 1)));
        assert_eq!(l.nearest(""), Some(loc(2, 1)));
        assert_eq!(l.nearest("weird]"), Some(loc(2, 1)));
        assert_eq!(Locations::default().nearest("a.b"), None);
        // With no root entry, the document start is the last resort.
        let sub = l.subtree("status");
        assert!(sub.is_empty());
        assert_eq!(sub.nearest("x"), Some(loc(2, 1)));
        assert_eq!(document.start, loc(1, 1));
    }

    #[test]
    fn subtree_reroots_the_entries_under_a_prefix() {
        let text = "\
kind: List
items:
- kind: Node
  metadata: {name: n0}
- kind: Node
  metadata:
    name: n1
  status: {capacity: {cpu: 4}}
";
        let document = one(text);
        let sub = document.locations.subtree("items[1]");
        let entries: Vec<(&str, Location)> = sub.iter().collect();
        assert_eq!(
            entries,
            [
                ("", loc(5, 3)),
                ("kind", loc(5, 9)),
                ("metadata", loc(7, 5)),
                ("metadata.name", loc(7, 11)),
                ("status", loc(8, 11)),
                ("status.capacity", loc(8, 22)),
                ("status.capacity.cpu", loc(8, 28)),
            ]
        );
        assert_eq!(sub.nearest("spec.nodeName"), Some(loc(5, 3)));
        assert_eq!(
            document.locations.subtree("items[0]").get("metadata.name"),
            Some(loc(4, 20))
        );
        assert_eq!(
            document.locations.subtree("items").get("[1].kind"),
            Some(loc(5, 9))
        );
        assert_eq!(
            document.locations.subtree("").len(),
            document.locations.len()
        );
        // A prefix that is only a textual prefix of a sibling does not match it.
        let doc = one("a: 1\nab: 2\na1: 3\n");
        assert_eq!(
            doc.locations.subtree("a").iter().collect::<Vec<_>>(),
            [("", loc(1, 4))]
        );
    }

    fn realdata_dir() -> PathBuf {
        if let Some(dir) = std::env::var_os("KUBESIM_REALDATA") {
            return PathBuf::from(dir);
        }
        let relative = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realdata");
        if relative.is_dir() {
            return relative;
        }
        PathBuf::from("/work/shared/realdata")
    }

    fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                json_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }

    #[test]
    // Wall-clock time is measured here only to report parsing speed, never in the library.
    #[allow(clippy::disallowed_methods)]
    fn real_kubernetes_node_yaml_and_openshift_json_files_parse() {
        let dir = realdata_dir();
        let nodes = dir.join("alibaba-gpu-v2023-openb/node_yaml/openb_node_list_gpu_node.yaml");
        if !nodes.is_file() {
            println!("skipping: {} not found", nodes.display());
            return;
        }
        let text = std::fs::read_to_string(&nodes).unwrap();
        let started = Instant::now();
        let documents = parse_documents(&text).unwrap();
        let elapsed = started.elapsed();
        println!(
            "parsed {} documents ({} bytes) in {elapsed:?}",
            documents.len(),
            text.len()
        );
        assert_eq!(documents.len(), 1213);
        assert!(elapsed.as_secs_f64() < 5.0, "took {elapsed:?}");
        let last = &documents[1212];
        assert_eq!(last.value["kind"], json!("Node"));
        assert!(
            last.value["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("openb-node-")
        );
        let cpu_location = last.locations.get("status.capacity.cpu").unwrap();
        let line = text.lines().nth(cpu_location.line as usize - 1).unwrap();
        assert!(line.trim_start().starts_with("cpu:"), "{line}");
        assert_eq!(
            &line[cpu_location.column as usize - 1..],
            last.value["status"]["capacity"]["cpu"].as_str().unwrap()
        );
        assert_eq!(
            last.locations
                .get("status.allocatable.alibabacloud.com/gpu-count")
                .map(|l| l.line),
            Some(cpu_location.line - 8)
        );

        let openshift = dir.join("openshift-insights-sample");
        if !openshift.is_dir() {
            println!("skipping: {} not found", openshift.display());
            return;
        }
        let mut files = Vec::new();
        json_files(&openshift, &mut files);
        assert!(!files.is_empty());
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            let documents =
                parse_documents(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(documents.len(), 1, "{}", file.display());
            let expected: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(documents[0].value, expected, "{}", file.display());
        }
        println!("parsed {} JSON files", files.len());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let finite = any::<f64>().prop_filter("finite", |f| f.is_finite());
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            finite.prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[-a-z0-9 .:#&*!|>'\"{}\\[\\],%@`~]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse_documents(&text);
        }

        #[test]
        fn yaml_like_text_never_panics(text in "[-a-z0-9 \t\n.:#&*!|>'\"{}\\[\\],%@`~?<=\\\\]{0,80}") {
            let _ = parse_documents(&text);
        }

        #[test]
        fn pretty_json_parses_back_to_the_same_value(original in json_value()) {
            let text = serde_json::to_string_pretty(&original).unwrap();
            let documents = parse_documents(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(documents.len(), 1);
            prop_assert_eq!(&documents[0].value, &original, "{}", text);
            prop_assert_eq!(documents[0].locations.get(""), Some(Location { line: 1, column: 1 }));
        }

        #[test]
        fn ascii_only_json_with_surrogate_pair_escapes_parses_back_to_the_same_value(original in json_value()) {
            // What Python's json.dump writes by default: every non-ASCII character escaped.
            let mut text = String::new();
            for c in serde_json::to_string_pretty(&original).unwrap().chars() {
                if c.is_ascii() {
                    text.push(c);
                } else {
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        text.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            let documents = parse_documents(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(documents.len(), 1);
            prop_assert_eq!(&documents[0].value, &original, "{}", text);
        }

        #[test]
        fn compact_json_parses_back_to_the_same_value(original in json_value()) {
            let text = serde_json::to_string(&original).unwrap();
            let documents = parse_documents(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(documents.len(), 1);
            prop_assert_eq!(&documents[0].value, &original, "{}", text);
        }
    }
}
