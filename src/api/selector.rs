//! Kubernetes labels and label selectors: parse, print, match and validate them exactly as upstream does.
//!
//! Invariants:
//! - A [`Requirement`] built by [`Requirement::new`], [`Selector::parse`] or [`LabelSelector::to_selector`]
//!   passed upstream `NewRequirement` validation; its values are sorted and deduplicated.
//!   [`Selector::from_map`] skips validation, like upstream `SelectorFromSet`.
//! - A [`Selector`]'s requirements are sorted by key with a *stable* sort, so requirements that share
//!   a key keep their input order.
//! - [`Selector::nothing`] matches no label set and prints as `""`; [`Selector::everything`] has no
//!   requirements and matches every label set (it also prints as `""`).
//! - Matching ([`Selector::matches`], [`Requirement::matches`], [`LabelSelector::matches`]) never allocates.
//! - No function here panics, whatever its input.
//!
//! Upstream files followed (kubernetes/kubernetes `staging/src/k8s.io/apimachinery/`, as published in
//! kubernetes/apimachinery at eed236ce, the v1.37 development line):
//! - `pkg/labels/selector.go`: lexer, parser, `NewRequirement`, `Requirement.Matches`, `String()`.
//! - `pkg/labels/labels.go`: `Set.String`, `FormatLabels`.
//! - `pkg/apis/meta/v1/helpers.go`: `LabelSelectorAsSelector`, `FormatLabelSelector`.
//! - `pkg/util/validation/validation.go` and `pkg/api/validate/content/{kube,dns,errors}.go`:
//!   label key/value validation and its messages.
//! - `pkg/util/validation/field/errors.go`, `pkg/util/errors/errors.go`: error text and aggregation.
//!
//! Simplifications and deliberate differences:
//! - Requirement values are stored sorted and deduplicated (upstream keeps `NewRequirement`'s input
//!   order and duplicates, and sorts only when printing), so `x in (a,a)` built from the API prints
//!   as `x in (a)`. Matching is unaffected.
//! - Upstream sorts requirements with the unstable `sort.Sort` (insertion sort, hence stable, for up to
//!   12 requirements); we always sort stably.
//! - Error messages reproduce upstream text; bad values are quoted like Go's `%q` / `encoding/json`,
//!   except that Go's notion of "printable" for exotic code points is approximated (JSON uses Go
//!   1.22+ escapes, e.g. `\b`). Length messages say "bytes", as the current `content` package does
//!   (older releases said "characters").
//! - Syntax errors additionally carry the byte offset of the offending token (upstream has none); the
//!   offset is not part of the `Display` text.
//! - The operator enums are closed, so upstream's "unsupported operator" errors cannot occur.
//! - Like Go, the JSON form accepts `null` for `matchLabels`, `matchExpressions` and `values`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

/// A set of labels: key → value.
pub type Labels = BTreeMap<String, String>;

// ---------------------------------------------------------------------------------------------
// API types
// ---------------------------------------------------------------------------------------------

/// metav1.LabelSelector, in the API's own JSON shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Each entry is an equality requirement `key=value`; all are ANDed.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "std::collections::BTreeMap::is_empty"
    )]
    pub match_labels: std::collections::BTreeMap<String, String>,
    /// Set-based requirements; all are ANDed with each other and with `match_labels`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// metav1.LabelSelectorRequirement.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabelSelectorRequirement {
    /// The label key the requirement applies to.
    pub key: String,
    /// How the key relates to `values`.
    pub operator: SelectorOperator,
    /// Non-empty for `In`/`NotIn`, empty for `Exists`/`DoesNotExist`.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub values: Vec<String>,
}

/// metav1.LabelSelectorOperator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SelectorOperator {
    /// The label's value is one of `values`.
    In,
    /// The label is absent or its value is none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// Go decodes a JSON `null` map or list as empty; serde's `default` alone rejects it.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    let opt: Option<T> = serde::Deserialize::deserialize(deserializer)?;
    Ok(opt.unwrap_or_default())
}

/// selection.Operator: the relation a [`Requirement`] expresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value` (matches when the key is absent)
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)` (matches when the key is absent)
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>5` (string syntax only)
    GreaterThan,
    /// `key<5` (string syntax only)
    LessThan,
}

impl Operator {
    /// The upstream `selection.Operator` string (`"="`, `"in"`, `"exists"`, `"!"`, `"gt"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<SelectorOperator> for Operator {
    fn from(op: SelectorOperator) -> Operator {
        match op {
            SelectorOperator::In => Operator::In,
            SelectorOperator::NotIn => Operator::NotIn,
            SelectorOperator::Exists => Operator::Exists,
            SelectorOperator::DoesNotExist => Operator::DoesNotExist,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One upstream `field.Error` of type "Invalid value".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Field path, e.g. `key`, `values`, `values[0]`, `values[0][app]`; `<nil>` for a key rejected by
    /// the string parser (upstream validates it against a nil path).
    pub field: String,
    /// The offending value, rendered as upstream does (`%q` for strings, JSON for lists).
    pub bad_value: String,
    /// What was expected.
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: Invalid value: {}", self.field, self.bad_value)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// An aggregated list of [`FieldError`]s, displayed like upstream `ErrorList.ToAggregate()`:
/// one message alone, several as `[a, b]` with duplicates removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => Ok(()),
            [one] => write!(f, "{one}"),
            many => {
                let mut seen: Vec<String> = Vec::with_capacity(many.len());
                for e in many {
                    let msg = e.to_string();
                    if !seen.contains(&msg) {
                        seen.push(msg);
                    }
                }
                if seen.len() == 1 {
                    f.write_str(&seen[0])
                } else {
                    write!(f, "[{}]", seen.join(", "))
                }
            }
        }
    }
}

/// Why a selector or requirement could not be built. `Display` gives upstream's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The selector string is malformed between requirements (e.g. `found ',', expected: identifier
    /// after ','`). `position` is the byte offset of the offending token.
    #[error("{message}")]
    Syntax {
        /// Upstream's message: what was found and what was expected.
        message: String,
        /// Byte offset of the offending token in the input.
        position: usize,
    },
    /// A requirement inside the selector string is malformed (e.g. `x in (a b)`).
    #[error("unable to parse requirement: {message}")]
    RequirementSyntax {
        /// Upstream's message: what was found and what was expected.
        message: String,
        /// Byte offset of the offending token in the input.
        position: usize,
    },
    /// A requirement inside the selector string is well-formed but invalid (bad key or value).
    #[error("unable to parse requirement: {errors}")]
    InvalidRequirementInSelector {
        /// The validation failures.
        errors: FieldErrors,
        /// Byte offset of the requirement's first token in the input.
        position: usize,
    },
    /// [`Requirement::new`] or [`LabelSelector::to_selector`] rejected a requirement.
    #[error("{0}")]
    InvalidRequirement(FieldErrors),
}

impl SelectorError {
    /// Byte offset in the parsed string, for errors that come from [`Selector::parse`].
    pub fn position(&self) -> Option<usize> {
        match self {
            SelectorError::Syntax { position, .. }
            | SelectorError::RequirementSyntax { position, .. }
            | SelectorError::InvalidRequirementInSelector { position, .. } => Some(*position),
            SelectorError::InvalidRequirement(_) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation (content.IsLabelKey / IsLabelValue / IsDNS1123Subdomain)
// ---------------------------------------------------------------------------------------------

const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_EXAMPLES: &[&str] = &["MyName", "my.name", "123-abc"];
const LABEL_NAME_MAX_LEN: usize = 63;
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_EXAMPLES: &[&str] = &["MyValue", "my_value", "12345"];
const LABEL_VALUE_MAX_LEN: usize = 63;
const DNS1123_SUBDOMAIN_FMT: &str =
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;

/// content.RegexError, including upstream's doubled space before "or".
fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    let mut out = String::from(msg);
    if examples.is_empty() {
        let _ = write!(out, " (regex used for validation is '{re}')");
        return out;
    }
    out.push_str(" (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        let _ = write!(out, "'{ex}', ");
    }
    let _ = write!(out, "regex used for validation is '{re}')");
    out
}

fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_label_name_regex(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
fn matches_dns1123_subdomain_regex(s: &str) -> bool {
    s.split('.').all(|label| {
        let b = label.as_bytes();
        let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        match (b.first(), b.last()) {
            (Some(first), Some(last)) => {
                edge(first) && edge(last) && b.iter().all(|c| edge(c) || *c == b'-')
            }
            _ => false,
        }
    })
}

fn label_key_ok(key: &str) -> bool {
    let mut parts = key.split('/');
    let first = parts.next().unwrap_or("");
    let (prefix, name) = match (parts.next(), parts.next()) {
        (None, _) => (None, first),
        (Some(name), None) => (Some(first), name),
        (Some(_), Some(_)) => return false,
    };
    if let Some(p) = prefix
        && (p.len() > DNS1123_SUBDOMAIN_MAX_LEN || !matches_dns1123_subdomain_regex(p))
    {
        return false;
    }
    name.len() <= LABEL_NAME_MAX_LEN && matches_label_name_regex(name)
}

fn label_value_ok(value: &str) -> bool {
    value.is_empty() || (value.len() <= LABEL_VALUE_MAX_LEN && matches_label_name_regex(value))
}

fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LEN {
        errs.push(max_len_error(DNS1123_SUBDOMAIN_MAX_LEN));
    }
    if !matches_dns1123_subdomain_regex(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// content.IsLabelKey: the list of problems with `key` (empty when valid).
fn label_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR_MSG, LABEL_KEY_FMT, LABEL_KEY_EXAMPLES)
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_NAME_MAX_LEN {
        errs.push(format!("name part {}", max_len_error(LABEL_NAME_MAX_LEN)));
    }
    if !matches_label_name_regex(name) {
        errs.push(format!(
            "name part {}",
            regex_error(LABEL_KEY_ERR_MSG, LABEL_KEY_FMT, LABEL_KEY_EXAMPLES)
        ));
    }
    errs
}

/// content.IsLabelValue: the list of problems with `value` (empty when valid).
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LEN {
        errs.push(max_len_error(LABEL_VALUE_MAX_LEN));
    }
    if !value.is_empty() && !matches_label_name_regex(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            LABEL_VALUE_EXAMPLES,
        ));
    }
    errs
}

/// Validates a label key (a qualified name: optional DNS-1123 subdomain prefix of at most 253 bytes
/// and `/`, then a name of at most 63 bytes). The error is upstream's messages joined by `"; "`.
pub fn validate_label_key(key: &str) -> Result<(), String> {
    let errs = label_key_errors(key);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

/// Validates a label value (empty, or at most 63 bytes of `[-A-Za-z0-9_.]` starting and ending with
/// an alphanumeric). The error is upstream's messages joined by `"; "`.
pub fn validate_label_value(value: &str) -> Result<(), String> {
    let errs = label_value_errors(value);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

// ---------------------------------------------------------------------------------------------
// Go-style rendering of bad values
// ---------------------------------------------------------------------------------------------

/// Approximates Go's `unicode.IsPrint` (which `strconv.Quote` uses).
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_or_private = matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0xE000..=0xF8FF | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xFFFE | 0xFFFF | 0xF0000..);
    !format_or_private
}

/// Go's `strconv.Quote` (the `%q` verb).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if c < ' ' || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// Go's `encoding/json` rendering of a string (with its default HTML escaping).
fn go_json_string(out: &mut String, s: &str) {
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
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `encoding/json` rendering of a `[]string`; `nil_if_empty` renders an empty list as `null`
/// (a nil slice in Go).
fn go_json_list(values: &[String], nil_if_empty: bool) -> String {
    if values.is_empty() && nil_if_empty {
        return "null".to_string();
    }
    let mut out = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        go_json_string(&mut out, v);
    }
    out.push(']');
    out
}

// ---------------------------------------------------------------------------------------------
// Requirement
// ---------------------------------------------------------------------------------------------

/// One `key op values` condition of a selector (labels.Requirement).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and deduplicated.
    values: Vec<String>,
    /// The parsed integer for `GreaterThan`/`LessThan`; 0 otherwise.
    bound: i64,
}

/// The checks of upstream `NewRequirement`, on the values exactly as given.
/// `nil_if_empty` renders an empty `values` as `null` in messages (Go's nil slice).
fn requirement_errors(
    key: &str,
    op: Operator,
    values: &[String],
    nil_if_empty: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let key_errs = label_key_errors(key);
    if !key_errs.is_empty() {
        errs.push(FieldError {
            field: "key".to_string(),
            bad_value: go_quote(key),
            detail: key_errs.join("; "),
        });
    }
    let invalid_values = |detail: &str| FieldError {
        field: "values".to_string(),
        bad_value: go_json_list(values, nil_if_empty),
        detail: detail.to_string(),
    };
    match op {
        Operator::In | Operator::NotIn => {
            if values.is_empty() {
                errs.push(invalid_values(
                    "for 'in', 'notin' operators, values set can't be empty",
                ));
            }
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
            if values.len() != 1 {
                errs.push(invalid_values(
                    "exact-match compatibility requires one single value",
                ));
            }
        }
        Operator::Exists | Operator::DoesNotExist => {
            if !values.is_empty() {
                errs.push(invalid_values(
                    "values set must be empty for exists and does not exist",
                ));
            }
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(invalid_values(
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(FieldError {
                        field: format!("values[{i}]"),
                        bad_value: go_quote(v),
                        detail: "for 'Gt', 'Lt' operators, the value must be an integer"
                            .to_string(),
                    });
                }
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let value_errs = label_value_errors(v);
        if !value_errs.is_empty() {
            errs.push(FieldError {
                field: format!("values[{i}][{key}]"),
                bad_value: go_quote(v),
                detail: value_errs.join("; "),
            });
        }
    }
    errs
}

fn build_requirement(
    key: &str,
    op: Operator,
    mut values: Vec<String>,
    nil_if_empty: bool,
) -> Result<Requirement, FieldErrors> {
    let errs = requirement_errors(key, op, &values, nil_if_empty);
    if !errs.is_empty() {
        return Err(FieldErrors(errs));
    }
    values.sort();
    values.dedup();
    let bound = match op {
        Operator::GreaterThan | Operator::LessThan => {
            values.first().and_then(|v| v.parse().ok()).unwrap_or(0)
        }
        _ => 0,
    };
    Ok(Requirement {
        key: key.to_string(),
        operator: op,
        values,
        bound,
    })
}

impl Requirement {
    /// Builds a requirement, validating as upstream `NewRequirement`: the key must be a valid label
    /// key; `In`/`NotIn` need at least one value; `Equals`/`DoubleEquals`/`NotEquals` exactly one;
    /// `Exists`/`DoesNotExist` none; `GreaterThan`/`LessThan` exactly one that parses as an `i64`;
    /// every value must be a valid label value. All failures are reported together.
    pub fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Requirement, SelectorError> {
        build_requirement(key, op, values, false).map_err(SelectorError::InvalidRequirement)
    }

    fn has_value(&self, value: &str) -> bool {
        self.values
            .binary_search_by(|v| v.as_str().cmp(value))
            .is_ok()
    }

    /// Whether `labels` satisfies this requirement (upstream `Requirement.Matches`):
    /// `NotIn`, `NotEquals` and `DoesNotExist` match when the key is absent; `GreaterThan` and
    /// `LessThan` need the label's value to parse as an `i64`. Never allocates.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(self.key.as_str());
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.has_value(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(n)) = value.map(|v| v.parse::<i64>()) else {
                    return false;
                };
                if self.values.len() != 1 {
                    return false;
                }
                if self.operator == Operator::GreaterThan {
                    n > self.bound
                } else {
                    n < self.bound
                }
            }
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted and deduplicated.
    pub fn values(&self) -> &[String] {
        &self.values
    }
}

/// Upstream `Requirement.String()`: `!k`, `k`, `k=v`, `k==v`, `k!=v`, `k>v`, `k<v`, `k in (a,b)`,
/// `k notin (a,b)`.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, set) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
        };
        f.write_str(op)?;
        if set {
            f.write_str("(")?;
        }
        for (i, v) in self.values.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(v)?;
        }
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Selector
// ---------------------------------------------------------------------------------------------

/// A parsed selector. `Selector::everything()` matches all label sets; `Selector::nothing()` matches none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    /// Sorted (stably) by key. Always empty when `nothing` is set.
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Default for Selector {
    fn default() -> Selector {
        Selector::everything()
    }
}

impl Selector {
    /// labels.Everything(): no requirements, matches every label set.
    pub fn everything() -> Selector {
        Selector {
            requirements: Vec::new(),
            nothing: false,
        }
    }

    /// labels.Nothing(): matches no label set. Prints as `""`, like upstream.
    pub fn nothing() -> Selector {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// labels.Parse: parses the string syntax, e.g. `app=web,tier in (a,b),!canary,x>3`.
    /// The empty string (or only whitespace) selects everything.
    pub fn parse(s: &str) -> Result<Selector, SelectorError> {
        let mut requirements = Parser::new(s).parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// labels.SelectorFromSet: one `key=value` requirement per label, without validation.
    /// An empty map selects everything.
    pub fn from_map(labels: &Labels) -> Selector {
        Selector {
            requirements: labels
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    operator: Operator::Equals,
                    values: vec![v.clone()],
                    bound: 0,
                })
                .collect(),
            nothing: false,
        }
    }

    /// Whether every requirement matches `labels` (always false for [`Selector::nothing`]).
    /// Never allocates.
    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Upstream `Empty()`: true when the selector does not restrict the selection (no requirements
    /// and not [`Selector::nothing`]).
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Upstream `MatchesNothing`: true only for [`Selector::nothing`].
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key (empty for both everything and nothing).
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// The requirements that name the values a matching label set must have one of
    /// (`=`, `==`, `in`): what an index by `key=value` can answer.
    pub fn value_requirements(&self) -> impl Iterator<Item = &Requirement> {
        self.requirements.iter().filter(|r| {
            matches!(
                r.operator,
                Operator::Equals | Operator::DoubleEquals | Operator::In
            )
        })
    }

    /// Through an index by `key=value` (`index`, with `size` the number of entries of a
    /// bucket): the buckets of the value requirement with the fewest entries, one per
    /// value present in the index. Every label set the selector matches is in one of them.
    /// `None` when no requirement names values (or for [`Selector::nothing`]).
    pub fn narrowest_buckets<'a, T>(
        &self,
        index: impl Fn(&str, &str) -> Option<&'a T>,
        size: impl Fn(&T) -> usize,
    ) -> Option<Vec<&'a T>> {
        if self.nothing {
            return None;
        }
        self.value_requirements()
            .map(|r| {
                let buckets: Vec<&T> = r.values.iter().filter_map(|v| index(&r.key, v)).collect();
                (buckets.iter().map(|b| size(b)).sum::<usize>(), buckets)
            })
            .min_by_key(|(n, _)| *n)
            .map(|(_, buckets)| buckets)
    }

    /// Upstream `Add`: this selector plus `reqs`, re-sorted by key. Adding to nothing gives nothing.
    pub fn with_requirements(mut self, reqs: impl IntoIterator<Item = Requirement>) -> Selector {
        if self.nothing {
            return self;
        }
        self.requirements.extend(reqs);
        self.requirements.sort_by(|a, b| a.key.cmp(&b.key));
        self
    }

    /// Upstream `RequiresExactMatch`: if the first requirement on `label` pins it to one value
    /// (`=`, `==`, or `in` with a single value), that value.
    pub fn requires_exact_match(&self, label: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == label)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [v]) => Some(v),
            _ => None,
        }
    }
}

/// Upstream `String()`: requirements joined by `,` (empty for everything and for nothing).
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Selector, SelectorError> {
        Selector::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// LabelSelector (metav1 helpers)
// ---------------------------------------------------------------------------------------------

impl LabelSelectorRequirement {
    /// Valid as upstream `NewRequirement` would judge it (no allocation).
    fn is_valid(&self) -> bool {
        let arity_ok = match self.operator {
            SelectorOperator::In | SelectorOperator::NotIn => !self.values.is_empty(),
            SelectorOperator::Exists | SelectorOperator::DoesNotExist => self.values.is_empty(),
        };
        arity_ok && label_key_ok(&self.key) && self.values.iter().all(|v| label_value_ok(v))
    }

    /// Matching for a requirement already known to be valid (no allocation).
    fn matches_valid(&self, labels: &Labels) -> bool {
        let value = labels.get(self.key.as_str());
        let listed = |v: &String| self.values.iter().any(|x| x == v);
        match self.operator {
            SelectorOperator::In => value.is_some_and(listed),
            SelectorOperator::NotIn => value.is_none_or(|v| !listed(v)),
            SelectorOperator::Exists => value.is_some(),
            SelectorOperator::DoesNotExist => value.is_none(),
        }
    }
}

impl LabelSelector {
    /// metav1.LabelSelectorAsSelector for a present selector (empty => everything).
    /// matchLabels (as `key=value`) and matchExpressions are ANDed; the first invalid requirement
    /// (matchLabels in key order, then matchExpressions in order) is the error.
    pub fn to_selector(&self) -> Result<Selector, SelectorError> {
        if self.match_labels.is_empty() && self.match_expressions.is_empty() {
            return Ok(Selector::everything());
        }
        let mut requirements =
            Vec::with_capacity(self.match_labels.len() + self.match_expressions.len());
        for (k, v) in &self.match_labels {
            requirements.push(
                build_requirement(k, Operator::Equals, vec![v.clone()], false)
                    .map_err(SelectorError::InvalidRequirement)?,
            );
        }
        for expr in &self.match_expressions {
            requirements.push(
                build_requirement(&expr.key, expr.operator.into(), expr.values.clone(), true)
                    .map_err(SelectorError::InvalidRequirement)?,
            );
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements,
            nothing: false,
        })
    }

    /// Convenience: to_selector then matches; an invalid selector matches nothing.
    /// Equivalent to that, but never allocates.
    pub fn matches(&self, labels: &Labels) -> bool {
        let valid = self
            .match_labels
            .iter()
            .all(|(k, v)| label_key_ok(k) && label_value_ok(v))
            && self.match_expressions.iter().all(|e| e.is_valid());
        valid
            && self
                .match_labels
                .iter()
                .all(|(k, v)| labels.get(k.as_str()) == Some(v))
            && self
                .match_expressions
                .iter()
                .all(|e| e.matches_valid(labels))
    }
}

/// LabelSelectorAsSelector for an optional selector: None => nothing.
pub fn selector_from_option(sel: Option<&LabelSelector>) -> Result<Selector, SelectorError> {
    match sel {
        None => Ok(Selector::nothing()),
        Some(s) => s.to_selector(),
    }
}

/// metav1.FormatLabelSelector: the selector's string form, `<none>` when that is empty (including
/// for `None`), `<error>` when the selector is invalid.
pub fn format_label_selector(sel: Option<&LabelSelector>) -> String {
    match selector_from_option(sel) {
        Err(_) => "<error>".to_string(),
        Ok(s) => {
            let out = s.to_string();
            if out.is_empty() {
                "<none>".to_string()
            } else {
                out
            }
        }
    }
}

/// labels.Set.String(): `key=value` pairs sorted *as whole strings* and joined by `,`.
pub fn labels_to_string(labels: &Labels) -> String {
    let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.sort();
    pairs.join(",")
}

/// labels.FormatLabels: like [`labels_to_string`], but `<none>` for an empty set.
pub fn format_labels(labels: &Labels) -> String {
    let out = labels_to_string(labels);
    if out.is_empty() {
        "<none>".to_string()
    } else {
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser (mirrors upstream's Lexer/Parser, byte for byte)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// Unreachable in practice: every single special byte is itself a token.
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Clone, Copy, Debug)]
struct Item<'a> {
    tok: Token,
    lit: &'a str,
    pos: usize,
}

fn literal_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special_symbol(ch: u8) -> bool {
    matches!(ch, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// Next byte, or 0 at the end. Like upstream, a NUL byte in the input also reads as 0.
    fn read(&mut self) -> u8 {
        match self.s.as_bytes().get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                b
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    /// Slices only ever cut next to ASCII bytes, so they fall on char boundaries.
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.s.get(start..end).unwrap_or("")
    }

    fn scan_id_or_keyword(&mut self) -> Item<'a> {
        let start = self.pos;
        let mut end = start;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if is_special_symbol(ch) || is_whitespace(ch) {
                self.unread();
                break;
            }
            end = self.pos;
        }
        let lit = self.slice(start, end);
        let tok = match literal_token(lit.as_bytes()) {
            Some(t) => t,
            None => Token::Identifier,
        };
        Item {
            tok,
            lit,
            pos: start,
        }
    }

    fn scan_special_symbol(&mut self) -> Item<'a> {
        let start = self.pos;
        let mut end = start;
        let mut last: Option<(Token, usize)> = None;
        loop {
            let ch = self.read();
            if ch == 0 {
                break;
            }
            if !is_special_symbol(ch) {
                self.unread();
                break;
            }
            end = self.pos;
            let buffer = self.s.as_bytes().get(start..end).unwrap_or(&[]);
            if let Some(t) = literal_token(buffer) {
                last = Some((t, end));
            } else if last.is_some() {
                self.unread();
                break;
            }
        }
        match last {
            Some((tok, tok_end)) => Item {
                tok,
                lit: self.slice(start, tok_end),
                pos: start,
            },
            None => Item {
                tok: Token::Error,
                lit: self.slice(start, end),
                pos: start,
            },
        }
    }

    fn lex(&mut self) -> Item<'a> {
        let mut ch = self.read();
        while is_whitespace(ch) {
            ch = self.read();
        }
        if ch == 0 {
            return Item {
                tok: Token::EndOfString,
                lit: "",
                pos: self.pos,
            };
        }
        self.unread();
        if is_special_symbol(ch) {
            self.scan_special_symbol()
        } else {
            self.scan_id_or_keyword()
        }
    }
}

/// In `Values` context the keywords `in`/`notin` are ordinary identifiers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// A failure inside one requirement, wrapped by `parse` into "unable to parse requirement: ...".
enum ReqError {
    Syntax(String, usize),
    Invalid(FieldErrors),
}

struct Parser<'a> {
    items: Vec<Item<'a>>,
    position: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Parser<'a> {
        let mut lexer = Lexer { s, pos: 0 };
        let mut items = Vec::new();
        loop {
            let item = lexer.lex();
            items.push(item);
            if item.tok == Token::EndOfString {
                break;
            }
        }
        Parser { items, position: 0 }
    }

    fn item_at(&self, index: usize, ctx: Context) -> Item<'a> {
        // The list always ends with EndOfString; never read past it.
        let mut item = match self.items.get(index).or(self.items.last()) {
            Some(item) => *item,
            None => Item {
                tok: Token::EndOfString,
                lit: "",
                pos: 0,
            },
        };
        if ctx == Context::Values && matches!(item.tok, Token::In | Token::NotIn) {
            item.tok = Token::Identifier;
        }
        item
    }

    fn lookahead(&self, ctx: Context) -> Item<'a> {
        self.item_at(self.position, ctx)
    }

    fn consume(&mut self, ctx: Context) -> Item<'a> {
        let item = self.item_at(self.position, ctx);
        if self.position < self.items.len() {
            self.position += 1;
        }
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let next = self.lookahead(Context::Values);
            match next.tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self.parse_requirement().map_err(|e| match e {
                        ReqError::Syntax(message, position) => {
                            SelectorError::RequirementSyntax { message, position }
                        }
                        ReqError::Invalid(errors) => SelectorError::InvalidRequirementInSelector {
                            errors,
                            position: next.pos,
                        },
                    })?;
                    requirements.push(r);
                    let after = self.consume(Context::Values);
                    match after.tok {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let t2 = self.lookahead(Context::Values);
                            if t2.tok != Token::Identifier && t2.tok != Token::DoesNotExist {
                                return Err(SelectorError::Syntax {
                                    message: format!(
                                        "found '{}', expected: identifier after ','",
                                        t2.lit
                                    ),
                                    position: t2.pos,
                                });
                            }
                        }
                        _ => {
                            return Err(SelectorError::Syntax {
                                message: format!(
                                    "found '{}', expected: ',' or 'end of string'",
                                    after.lit
                                ),
                                position: after.pos,
                            });
                        }
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(SelectorError::Syntax {
                        message: format!(
                            "found '{}', expected: !, identifier, or 'end of string'",
                            next.lit
                        ),
                        position: next.pos,
                    });
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, ReqError> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return build_requirement(key, op, Vec::new(), false).map_err(ReqError::Invalid);
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        let values = values.into_iter().map(str::to_string).collect();
        build_requirement(key, op, values, false).map_err(ReqError::Invalid)
    }

    /// The key, and `Exists`/`DoesNotExist` when that is the whole requirement.
    fn parse_key_and_infer_operator(&mut self) -> Result<(&'a str, Option<Operator>), ReqError> {
        let mut op = None;
        let mut item = self.consume(Context::Values);
        if item.tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            item = self.consume(Context::Values);
        }
        if item.tok != Token::Identifier {
            return Err(ReqError::Syntax(
                format!("found '{}', expected: identifier", item.lit),
                item.pos,
            ));
        }
        let key_errs = label_key_errors(item.lit);
        if !key_errs.is_empty() {
            // Upstream validates against the parser's nil field path, which prints as "<nil>".
            return Err(ReqError::Invalid(FieldErrors(vec![FieldError {
                field: "<nil>".to_string(),
                bad_value: go_quote(item.lit),
                detail: key_errs.join("; "),
            }])));
        }
        let next = self.lookahead(Context::Values).tok;
        if (next == Token::EndOfString || next == Token::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((item.lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, ReqError> {
        let item = self.consume(Context::KeyAndOperator);
        Ok(match item.tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(ReqError::Syntax(
                    format!(
                        "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                        item.lit
                    ),
                    item.pos,
                ));
            }
        })
    }

    fn parse_values(&mut self) -> Result<BTreeSet<&'a str>, ReqError> {
        let open = self.consume(Context::Values);
        if open.tok != Token::OpenPar {
            return Err(ReqError::Syntax(
                format!("found '{}' expected: '('", open.lit),
                open.pos,
            ));
        }
        let first = self.lookahead(Context::Values);
        match first.tok {
            Token::Identifier | Token::Comma => {
                let set = self.parse_identifiers_list()?;
                let close = self.consume(Context::Values);
                if close.tok != Token::ClosedPar {
                    // Upstream reports the token after '(' here; unreachable, as the list only
                    // ends successfully in front of ')'.
                    return Err(ReqError::Syntax(
                        format!("found '{}', expected: ')'", first.lit),
                        close.pos,
                    ));
                }
                Ok(set)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(BTreeSet::from([""]))
            }
            _ => Err(ReqError::Syntax(
                format!("found '{}', expected: ',', ')' or identifier", first.lit),
                first.pos,
            )),
        }
    }

    /// A (possibly empty) comma-separated list of (possibly empty) identifiers.
    fn parse_identifiers_list(&mut self) -> Result<BTreeSet<&'a str>, ReqError> {
        let mut set = BTreeSet::new();
        loop {
            let item = self.consume(Context::Values);
            match item.tok {
                Token::Identifier => {
                    set.insert(item.lit);
                    let next = self.lookahead(Context::Values);
                    match next.tok {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set),
                        _ => {
                            return Err(ReqError::Syntax(
                                format!("found '{}', expected: ',' or ')'", next.lit),
                                next.pos,
                            ));
                        }
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        set.insert(""); // "(,"
                    }
                    let next = self.lookahead(Context::Values).tok;
                    if next == Token::ClosedPar {
                        set.insert(""); // ",)"
                        return Ok(set);
                    }
                    if next == Token::Comma {
                        set.insert(""); // ",,"
                    }
                }
                _ => {
                    return Err(ReqError::Syntax(
                        format!("found '{}', expected: ',', or identifier", item.lit),
                        item.pos,
                    ));
                }
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<BTreeSet<&'a str>, ReqError> {
        let next = self.lookahead(Context::Values).tok;
        if next == Token::EndOfString || next == Token::Comma {
            return Ok(BTreeSet::from([""]));
        }
        let item = self.consume(Context::Values);
        if item.tok == Token::Identifier {
            return Ok(BTreeSet::from([item.lit]));
        }
        Err(ReqError::Syntax(
            format!("found '{}', expected: identifier", item.lit),
            item.pos,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn req(key: &str, op: Operator, vals: &[&str]) -> Requirement {
        match Requirement::new(key, op, strs(vals)) {
            Ok(r) => r,
            Err(e) => panic!("NewRequirement({key}, {op}, {vals:?}) failed: {e}"),
        }
    }

    fn sel(reqs: Vec<Requirement>) -> Selector {
        Selector::everything().with_requirements(reqs)
    }

    fn parse_ok(s: &str) -> Selector {
        match Selector::parse(s) {
            Ok(sel) => sel,
            Err(e) => panic!("parse({s:?}) failed: {e}"),
        }
    }

    fn parse_err(s: &str) -> SelectorError {
        match Selector::parse(s) {
            Ok(sel) => panic!("parse({s:?}) unexpectedly gave {sel:?}"),
            Err(e) => e,
        }
    }

    const LABEL_VALUE_REGEX_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
    const NAME_PART_REGEX_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

    // --- TestSelectorParse ---------------------------------------------------------------------

    #[test]
    fn good_selector_strings_parse_and_print_back_without_spaces() {
        for s in [
            "x=a,y=b,z=c",
            "",
            "x!=a,y=b",
            "x=",
            "x= ",
            "x=,z= ",
            "x= ,z= ",
            "!x",
            "x>1",
            "x>1,z<5",
        ] {
            assert_eq!(parse_ok(s).to_string(), s.replace(' ', ""), "input {s:?}");
        }
    }

    #[test]
    fn bad_selector_strings_are_rejected() {
        for s in ["x=a||y=b", "x==a==b", "!x=a", "x<a"] {
            parse_err(s);
        }
    }

    #[test]
    fn parsing_is_deterministic_whatever_the_requirement_order() {
        assert_eq!(parse_ok("x=a,a=x"), parse_ok("a=x,x=a"));
        assert_eq!(parse_ok("x=a,a=x").to_string(), "a=x,x=a");
    }

    // --- TestEverything / TestSetIsEmpty / TestNilMapIsValid ----------------------------------

    #[test]
    fn everything_matches_any_label_set_and_is_empty() {
        assert!(Selector::everything().matches(&set(&[("x", "y")])));
        assert!(Selector::everything().matches(&Labels::new()));
        assert!(Selector::everything().is_everything());
        assert!(!Selector::everything().is_nothing());
    }

    #[test]
    fn nothing_matches_no_label_set_and_is_not_empty() {
        assert!(!Selector::nothing().matches(&set(&[("x", "y")])));
        assert!(!Selector::nothing().matches(&Labels::new()));
        assert!(!Selector::nothing().is_everything());
        assert!(Selector::nothing().is_nothing());
        assert_eq!(Selector::nothing().to_string(), "");
        assert!(
            Selector::nothing()
                .with_requirements([req("x", Operator::Exists, &[])])
                .is_nothing()
        );
    }

    #[test]
    fn empty_map_selector_is_everything() {
        assert!(Selector::from_map(&Labels::new()).is_everything());
        assert_eq!(Selector::from_map(&Labels::new()), Selector::everything());
    }

    #[test]
    fn empty_string_selector_is_everything() {
        assert_eq!(parse_ok(""), Selector::everything());
        assert_eq!(parse_ok(" \t\r\n"), Selector::everything());
        assert!(parse_ok("").is_everything());
    }

    // --- TestSelectorMatches -------------------------------------------------------------------

    #[test]
    fn string_selectors_match_as_upstream_expects() {
        let yes: &[(&str, Labels)] = &[
            ("", set(&[("x", "y")])),
            ("x=y", set(&[("x", "y")])),
            ("x=y,z=w", set(&[("x", "y"), ("z", "w")])),
            ("x!=y,z!=w", set(&[("x", "z"), ("z", "a")])),
            ("notin=in", set(&[("notin", "in")])),
            ("x", set(&[("x", "z")])),
            ("!x", set(&[("y", "z")])),
            ("x>1", set(&[("x", "2")])),
            ("x<1", set(&[("x", "0")])),
        ];
        for (s, ls) in yes {
            assert!(parse_ok(s).matches(ls), "{s:?} should match {ls:?}");
        }
        let no: &[(&str, Labels)] = &[
            ("x=z", set(&[])),
            ("x=y", set(&[("x", "z")])),
            ("x=y,z=w", set(&[("x", "w"), ("z", "w")])),
            ("x!=y,z!=w", set(&[("x", "z"), ("z", "w")])),
            ("x", set(&[("y", "z")])),
            ("!x", set(&[("x", "z")])),
            ("x>1", set(&[("x", "0")])),
            ("x<1", set(&[("x", "2")])),
        ];
        for (s, ls) in no {
            assert!(!parse_ok(s).matches(ls), "{s:?} should not match {ls:?}");
        }
        let labelset = set(&[("foo", "bar"), ("baz", "blah")]);
        for s in ["foo=bar", "baz=blah", "foo=bar,baz=blah"] {
            assert!(parse_ok(s).matches(&labelset), "{s}");
        }
        for s in ["foo=blah", "baz=bar", "foo=bar,foobar=bar,baz=blah"] {
            assert!(!parse_ok(s).matches(&labelset), "{s}");
        }
    }

    #[test]
    fn map_selectors_match_their_subsets() {
        let labelset = set(&[("foo", "bar"), ("baz", "blah")]);
        for m in [
            set(&[]),
            set(&[("foo", "bar")]),
            set(&[("baz", "blah")]),
            set(&[("foo", "bar"), ("baz", "blah")]),
        ] {
            assert!(Selector::from_map(&m).matches(&labelset), "{m:?}");
        }
        assert!(!Selector::from_map(&set(&[("foo", "baz")])).matches(&labelset));
    }

    #[test]
    fn map_selector_prints_sorted_by_key() {
        assert_eq!(
            Selector::from_map(&set(&[("app", "foo"), ("a", "b")])).to_string(),
            "a=b,app=foo"
        );
    }

    #[test]
    fn notin_matches_when_key_is_absent() {
        assert!(parse_ok("x notin (a)").matches(&set(&[("y", "a")])));
        assert!(parse_ok("x notin (a)").matches(&set(&[("x", "b")])));
        assert!(!parse_ok("x notin (a)").matches(&set(&[("x", "a")])));
    }

    #[test]
    fn not_equals_matches_when_key_is_absent() {
        assert!(parse_ok("x!=a").matches(&Labels::new()));
        assert!(!parse_ok("x!=a").matches(&set(&[("x", "a")])));
    }

    #[test]
    fn in_and_equals_need_the_key_present() {
        assert!(!parse_ok("x in (a)").matches(&Labels::new()));
        assert!(!parse_ok("x=").matches(&Labels::new()));
        assert!(parse_ok("x=").matches(&set(&[("x", "")])));
        assert!(parse_ok("x==a").matches(&set(&[("x", "a")])));
    }

    #[test]
    fn greater_and_less_than_need_an_integer_label_value() {
        assert!(!parse_ok("x>1").matches(&Labels::new()));
        assert!(!parse_ok("x>1").matches(&set(&[("x", "v2")])));
        assert!(!parse_ok("x>1").matches(&set(&[("x", "1")])));
        assert!(parse_ok("x>1").matches(&set(&[("x", "+2")])));
        assert!(parse_ok("x<1").matches(&set(&[("x", "-5")])));
        assert!(parse_ok("x>05").matches(&set(&[("x", "6")])));
        assert!(!parse_ok("x<1").matches(&set(&[("x", "99999999999999999999")])));
    }

    // --- TestLexer / TestLexerSequence / TestParserLookahead ----------------------------------

    fn tokens(s: &str) -> Vec<Token> {
        Parser::new(s).items.iter().map(|i| i.tok).collect()
    }

    #[test]
    fn lexer_returns_the_longest_token() {
        use Token::*;
        let cases: &[(&str, Token)] = &[
            ("", EndOfString),
            (",", Comma),
            ("notin", NotIn),
            ("in", In),
            ("=", Equals),
            ("==", DoubleEquals),
            (">", GreaterThan),
            ("<", LessThan),
            ("!", DoesNotExist),
            ("!=", NotEquals),
            ("(", OpenPar),
            (")", ClosedPar),
            ("~", Identifier),
            ("||", Identifier),
        ];
        for (s, t) in cases {
            let mut lexer = Lexer { s, pos: 0 };
            let item = lexer.lex();
            assert_eq!(item.tok, *t, "{s:?}");
            assert_eq!(item.lit, *s, "{s:?}");
        }
    }

    #[test]
    fn lexer_splits_sequences_like_upstream() {
        use Token::*;
        let cases: &[(&str, &[Token])] = &[
            (
                "key in ( value )",
                &[Identifier, In, OpenPar, Identifier, ClosedPar],
            ),
            (
                "key notin ( value )",
                &[Identifier, NotIn, OpenPar, Identifier, ClosedPar],
            ),
            (
                "key in ( value1, value2 )",
                &[
                    Identifier, In, OpenPar, Identifier, Comma, Identifier, ClosedPar,
                ],
            ),
            ("key", &[Identifier]),
            ("!key", &[DoesNotExist, Identifier]),
            ("()", &[OpenPar, ClosedPar]),
            ("", &[]),
            (
                "x in (),y",
                &[Identifier, In, OpenPar, ClosedPar, Comma, Identifier],
            ),
            (
                "== != (), = notin",
                &[
                    DoubleEquals,
                    NotEquals,
                    OpenPar,
                    ClosedPar,
                    Comma,
                    Equals,
                    NotIn,
                ],
            ),
            ("key>2", &[Identifier, GreaterThan, Identifier]),
            ("key<1", &[Identifier, LessThan, Identifier]),
            ("!!=", &[DoesNotExist, NotEquals]),
            ("===", &[DoubleEquals, Equals]),
        ];
        for (s, want) in cases {
            let mut want = want.to_vec();
            want.push(EndOfString);
            assert_eq!(tokens(s), want, "{s:?}");
        }
    }

    #[test]
    fn lexer_treats_a_nul_byte_like_the_end_of_input() {
        // Upstream's read() returns 0 for both; after whitespace a NUL ends the token stream.
        assert_eq!(parse_ok("x \0((("), parse_ok("x"));
        assert!(Selector::parse("x\0y").is_err());
    }

    // --- TestParseOperator ---------------------------------------------------------------------

    #[test]
    fn parse_operator_accepts_binary_operators_only() {
        for (tok, op) in [
            ("in", Operator::In),
            ("=", Operator::Equals),
            ("==", Operator::DoubleEquals),
            (">", Operator::GreaterThan),
            ("<", Operator::LessThan),
            ("notin", Operator::NotIn),
            ("!=", Operator::NotEquals),
        ] {
            assert!(
                matches!(Parser::new(tok).parse_operator(), Ok(o) if o == op),
                "{tok}"
            );
        }
        for tok in ["!", "exists", "("] {
            match Parser::new(tok).parse_operator() {
                Err(ReqError::Syntax(msg, 0)) => assert_eq!(
                    msg,
                    format!("found '{tok}', expected: in, notin, =, ==, !=, gt, lt")
                ),
                _ => panic!("{tok} should be rejected"),
            }
        }
    }

    // --- TestRequirementConstructor -------------------------------------------------------------

    fn constructor_error(key: &str, op: Operator, vals: &[&str]) -> Option<Vec<(String, String)>> {
        match Requirement::new(key, op, strs(vals)) {
            Ok(_) => None,
            Err(SelectorError::InvalidRequirement(FieldErrors(errs))) => {
                Some(errs.into_iter().map(|e| (e.field, e.bad_value)).collect())
            }
            Err(other) => panic!("unexpected error kind {other:?}"),
        }
    }

    #[test]
    fn requirement_constructor_validates_like_new_requirement() {
        use Operator::*;
        let a254 = "a".repeat(254);
        type Case<'a> = (
            &'a str,
            Operator,
            Vec<&'a str>,
            Option<Vec<(&'a str, String)>>,
        );
        let cases: Vec<Case> = vec![
            ("x1", In, vec![], Some(vec![("values", "[]".into())])),
            ("x2", NotIn, vec![], Some(vec![("values", "[]".into())])),
            ("x3", In, vec!["foo"], None),
            ("x4", NotIn, vec!["foo"], None),
            (
                "x5",
                Equals,
                vec!["bar", "foo"],
                Some(vec![("values", r#"["bar","foo"]"#.into())]),
            ),
            ("x6", Exists, vec![], None),
            ("x7", DoesNotExist, vec![], None),
            (
                "x8",
                Exists,
                vec!["foo"],
                Some(vec![("values", r#"["foo"]"#.into())]),
            ),
            ("x9", In, vec!["bar"], None),
            ("x10", In, vec!["bar"], None),
            ("x11", GreaterThan, vec!["1"], None),
            ("x12", LessThan, vec!["6"], None),
            (
                "x13",
                GreaterThan,
                vec![],
                Some(vec![("values", "[]".into())]),
            ),
            (
                "x14",
                GreaterThan,
                vec!["bar"],
                Some(vec![("values[0]", r#""bar""#.into())]),
            ),
            (
                "x15",
                LessThan,
                vec!["bar"],
                Some(vec![("values[0]", r#""bar""#.into())]),
            ),
            (
                &a254,
                Exists,
                vec![],
                Some(vec![("key", format!("{a254:?}"))]),
            ),
            (
                "x16",
                Equals,
                vec![&a254],
                Some(vec![("values[0][x16]", format!("{a254:?}"))]),
            ),
            (
                "x17",
                Equals,
                vec!["a b"],
                Some(vec![("values[0][x17]", r#""a b""#.into())]),
            ),
            // From the older TestRequirementConstructor table.
            ("1foo", In, vec!["bar"], None),
            ("1234", In, vec!["bar"], None),
            (
                "foo",
                GreaterThan,
                vec!["bar"],
                Some(vec![("values[0]", r#""bar""#.into())]),
            ),
        ];
        for (key, op, vals, want) in cases {
            let want = want.map(|w| {
                w.into_iter()
                    .map(|(f, v)| (f.to_string(), v))
                    .collect::<Vec<_>>()
            });
            assert_eq!(constructor_error(key, op, &vals), want, "key {key} op {op}");
        }
    }

    #[test]
    fn requirement_constructor_reports_every_failure_together() {
        let err = Requirement::new("-bad", Operator::GreaterThan, strs(&["-1", "x!"])).unwrap_err();
        let SelectorError::InvalidRequirement(FieldErrors(errs)) = &err else {
            panic!("{err:?}");
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "key",
                "values",
                "values[1]",
                "values[0][-bad]",
                "values[1][-bad]"
            ]
        );
        assert!(
            err.to_string()
                .starts_with("[key: Invalid value: \"-bad\": ")
        );
    }

    #[test]
    fn requirement_error_messages_match_upstream_text() {
        let err = Requirement::new("x", Operator::In, vec![]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
        );
        let err = Requirement::new("x", Operator::Exists, strs(&["a"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: Invalid value: [\"a\"]: values set must be empty for exists and does not exist"
        );
        let err = Requirement::new("x", Operator::Equals, strs(&["a", "b"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: Invalid value: [\"a\",\"b\"]: exact-match compatibility requires one single value"
        );
        let err = Requirement::new("x", Operator::LessThan, strs(&["1", "2"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: Invalid value: [\"1\",\"2\"]: for 'Gt', 'Lt' operators, exactly one value is required"
        );
        let err = Requirement::new("x", Operator::Equals, strs(&["a<b"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("values[0][x]: Invalid value: \"a<b\": {LABEL_VALUE_REGEX_MSG}")
        );
    }

    #[test]
    fn requirement_values_are_sorted_and_deduplicated() {
        let r = req("x", Operator::In, &["b", "a", "b", ""]);
        assert_eq!(r.values(), ["", "a", "b"]);
        assert_eq!(r.to_string(), "x in (,a,b)");
        assert_eq!(r.key(), "x");
        assert_eq!(r.operator(), Operator::In);
    }

    #[test]
    fn exact_match_needs_one_value_before_deduplication() {
        assert!(Requirement::new("x", Operator::Equals, strs(&["a", "a"])).is_err());
    }

    #[test]
    fn negative_bounds_are_rejected_as_label_values() {
        // ParseInt accepts "-1", but "-1" is not a valid label value.
        let err = parse_err("x<-1");
        assert_eq!(
            err.to_string(),
            format!(
                "unable to parse requirement: values[0][x]: Invalid value: \"-1\": {LABEL_VALUE_REGEX_MSG}"
            )
        );
    }

    // --- TestToString ---------------------------------------------------------------------------

    #[test]
    fn selectors_print_like_upstream() {
        use Operator::*;
        let cases = vec![
            (
                sel(vec![
                    req("x", In, &["abc", "def"]),
                    req("y", NotIn, &["jkl"]),
                    req("z", Exists, &[]),
                ]),
                "x in (abc,def),y notin (jkl),z",
            ),
            (
                sel(vec![
                    req("x", NotIn, &["abc", "def"]),
                    req("y", NotEquals, &["jkl"]),
                    req("z", DoesNotExist, &[]),
                ]),
                "x notin (abc,def),y!=jkl,!z",
            ),
            (
                sel(vec![
                    req("x", NotIn, &["abc"]),
                    req("y", In, &["jkl", "mno"]),
                    req("z", NotIn, &[""]),
                ]),
                "x notin (abc),y in (jkl,mno),z notin ()",
            ),
            (
                sel(vec![
                    req("x", Equals, &["abc"]),
                    req("y", DoubleEquals, &["jkl"]),
                    req("z", NotEquals, &["a"]),
                    req("z", Exists, &[]),
                ]),
                "x=abc,y==jkl,z!=a,z",
            ),
            (
                sel(vec![
                    req("x", GreaterThan, &["2"]),
                    req("y", LessThan, &["8"]),
                    req("z", Exists, &[]),
                ]),
                "x>2,y<8,z",
            ),
        ];
        for (s, want) in cases {
            assert_eq!(s.to_string(), want);
        }
    }

    #[test]
    fn requirements_with_the_same_key_keep_their_order() {
        assert_eq!(parse_ok("z,b=c,z!=a").to_string(), "b=c,z,z!=a");
        assert_eq!(parse_ok("z!=a,b=c,z").to_string(), "b=c,z!=a,z");
    }

    // --- TestRequirementSelectorMatching --------------------------------------------------------

    #[test]
    fn requirement_selectors_match_like_upstream() {
        use Operator::*;
        let cases = vec![
            (
                set(&[("x", "foo"), ("y", "baz")]),
                sel(vec![req("x", In, &["foo"]), req("y", NotIn, &["alpha"])]),
                true,
            ),
            (
                set(&[("x", "foo"), ("y", "baz")]),
                sel(vec![req("x", In, &["foo"]), req("y", In, &["alpha"])]),
                false,
            ),
            (
                set(&[("y", "")]),
                sel(vec![req("x", NotIn, &[""]), req("y", Exists, &[])]),
                true,
            ),
            (
                set(&[("y", "")]),
                sel(vec![req("x", DoesNotExist, &[]), req("y", Exists, &[])]),
                true,
            ),
            (
                set(&[("y", "")]),
                sel(vec![req("x", NotIn, &[""]), req("y", DoesNotExist, &[])]),
                false,
            ),
            (set(&[("y", "baz")]), sel(vec![req("x", In, &[""])]), false),
            (
                set(&[("z", "2")]),
                sel(vec![req("z", GreaterThan, &["1"])]),
                true,
            ),
            (
                set(&[("z", "v2")]),
                sel(vec![req("z", GreaterThan, &["1"])]),
                false,
            ),
        ];
        for (ls, s, want) in cases {
            assert_eq!(s.matches(&ls), want, "{s} on {ls:?}");
        }
    }

    // --- TestSetSelectorParser ------------------------------------------------------------------

    #[test]
    fn set_based_selector_strings_parse_to_the_expected_requirements() {
        use Operator::*;
        let cases: Vec<(&str, Vec<Requirement>)> = vec![
            ("", vec![]),
            ("\rx", vec![req("x", Exists, &[])]),
            (
                "this-is-a-dns.domain.com/key-with-dash",
                vec![req("this-is-a-dns.domain.com/key-with-dash", Exists, &[])],
            ),
            (
                "this-is-another-dns.domain.com/key-with-dash in (so,what)",
                vec![req(
                    "this-is-another-dns.domain.com/key-with-dash",
                    In,
                    &["so", "what"],
                )],
            ),
            (
                "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
                vec![req(
                    "0.1.2.domain/99",
                    NotIn,
                    &["10.10.100.1", "tick.tack.clock"],
                )],
            ),
            ("foo  in\t (abc)", vec![req("foo", In, &["abc"])]),
            ("x notin\n (abc)", vec![req("x", NotIn, &["abc"])]),
            (
                "x  notin\t\t\t(abc,def)",
                vec![req("x", NotIn, &["abc", "def"])],
            ),
            ("x in (abc,def)", vec![req("x", In, &["abc", "def"])]),
            ("x in (abc,)", vec![req("x", In, &["abc", ""])]),
            ("x in (abc,abc)", vec![req("x", In, &["abc"])]),
            ("x in ()", vec![req("x", In, &[""])]),
            ("x in (a,,)", vec![req("x", In, &["a", ""])]),
            ("x in (a,,,)", vec![req("x", In, &["a", ""])]),
            ("x in (a,,,,,,)", vec![req("x", In, &["a", ""])]),
            ("x in (a,,a,,a,,a,,)", vec![req("x", In, &["a", ""])]),
            (
                "x notin (abc,,def),bar,z in (),w",
                vec![
                    req("bar", Exists, &[]),
                    req("w", Exists, &[]),
                    req("x", NotIn, &["abc", "", "def"]),
                    req("z", In, &[""]),
                ],
            ),
            (
                "x,y in (a)",
                vec![req("x", Exists, &[]), req("y", In, &["a"])],
            ),
            ("x=a", vec![req("x", Equals, &["a"])]),
            ("x>1", vec![req("x", GreaterThan, &["1"])]),
            ("x<7", vec![req("x", LessThan, &["7"])]),
            (
                "x=a,y!=b",
                vec![req("x", Equals, &["a"]), req("y", NotEquals, &["b"])],
            ),
            (
                "x=a,y!=b,z in (h,i,j)",
                vec![
                    req("x", Equals, &["a"]),
                    req("y", NotEquals, &["b"]),
                    req("z", In, &["h", "i", "j"]),
                ],
            ),
            ("x notin ( )", vec![req("x", NotIn, &[""])]),
            ("x notin (, a)", vec![req("x", NotIn, &["", "a"])]),
            ("a ", vec![req("a", Exists, &[])]),
            (
                "a in (x,y,notin, z,in)",
                vec![req("a", In, &["in", "notin", "x", "y", "z"])],
            ),
            ("in in (in)", vec![req("in", In, &["in"])]),
            ("!notin", vec![req("notin", DoesNotExist, &[])]),
        ];
        for (s, want) in cases {
            assert_eq!(parse_ok(s).requirements(), want.as_slice(), "input {s:?}");
        }
    }

    #[test]
    fn malformed_selector_strings_fail_with_upstream_messages() {
        let cases: &[(&str, &str, usize)] = &[
            (
                "x=a||y=b",
                "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": ",
                0,
            ),
            ("x==a==b", "found '==', expected: ',' or 'end of string'", 4),
            ("!x=a", "found '=', expected: ',' or 'end of string'", 2),
            (
                "x<a",
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
                0,
            ),
            (
                "x>",
                "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer",
                0,
            ),
            ("x,,y", "found ',', expected: identifier after ','", 2),
            (
                ",x,y",
                "found ',', expected: !, identifier, or 'end of string'",
                0,
            ),
            (
                "x nott in (y)",
                "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt",
                2,
            ),
            (
                "a in (xyz),",
                "found '', expected: identifier after ','",
                11,
            ),
            (
                "a in (xyz)b notin ()",
                "found 'b', expected: ',' or 'end of string'",
                10,
            ),
            (
                "a in (xyz abc)",
                "unable to parse requirement: found 'abc', expected: ',' or ')'",
                10,
            ),
            (
                "a notin(",
                "unable to parse requirement: found '', expected: ',', ')' or identifier",
                8,
            ),
            (
                "a (",
                "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
                2,
            ),
            (
                "(",
                "found '(', expected: !, identifier, or 'end of string'",
                0,
            ),
            (
                "x in",
                "unable to parse requirement: found '' expected: '('",
                4,
            ),
            (
                "x in (a,",
                "unable to parse requirement: found '', expected: ',', or identifier",
                8,
            ),
            (
                "x=(",
                "unable to parse requirement: found '(', expected: identifier",
                2,
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
                1,
            ),
            (
                "!=a",
                "found '!=', expected: !, identifier, or 'end of string'",
                0,
            ),
        ];
        for (s, want, pos) in cases {
            let err = parse_err(s);
            assert!(
                err.to_string().starts_with(want),
                "{s:?}: got {err}, want prefix {want}"
            );
            assert_eq!(err.position(), Some(*pos), "{s:?}: {err:?}");
        }
    }

    #[test]
    fn invalid_key_in_a_selector_string_is_reported_against_a_nil_path() {
        let err = parse_err("a/b/c");
        assert_eq!(
            err.to_string(),
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        );
        assert!(matches!(
            err,
            SelectorError::InvalidRequirementInSelector { position: 0, .. }
        ));
    }

    // --- LabelSelectorAsSelector (helpers_test.go) ----------------------------------------------

    fn expr(key: &str, op: SelectorOperator, vals: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_string(),
            operator: op,
            values: strs(vals),
        }
    }

    #[test]
    fn label_selector_converts_like_label_selector_as_selector() {
        let match_labels = set(&[("foo", "bar")]);
        let match_expressions = vec![expr("baz", SelectorOperator::In, &["qux", "norf"])];
        assert_eq!(selector_from_option(None), Ok(Selector::nothing()));
        assert_eq!(
            selector_from_option(Some(&LabelSelector::default())),
            Ok(Selector::everything())
        );
        let cases = vec![
            (
                LabelSelector {
                    match_labels: match_labels.clone(),
                    match_expressions: vec![],
                },
                "foo=bar",
            ),
            (
                LabelSelector {
                    match_labels: Labels::new(),
                    match_expressions: match_expressions.clone(),
                },
                "baz in (norf,qux)",
            ),
            (
                LabelSelector {
                    match_labels,
                    match_expressions,
                },
                "baz in (norf,qux),foo=bar",
            ),
        ];
        for (ls, want) in cases {
            let before = ls.clone();
            let s = ls.to_selector().unwrap();
            assert_eq!(ls, before, "input must not be modified");
            assert_eq!(s, parse_ok(want));
            assert_eq!(s.to_string(), want);
        }
    }

    #[test]
    fn exists_with_values_in_a_label_selector_is_an_error() {
        let ls = LabelSelector {
            match_labels: Labels::new(),
            match_expressions: vec![expr("baz", SelectorOperator::Exists, &["qux", "norf"])],
        };
        let err = ls.to_selector().unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: Invalid value: [\"qux\",\"norf\"]: values set must be empty for exists and does not exist"
        );
        assert!(!ls.matches(&set(&[("baz", "qux")])));
    }

    #[test]
    fn in_without_values_in_a_label_selector_reports_a_nil_list() {
        let ls = LabelSelector {
            match_labels: Labels::new(),
            match_expressions: vec![expr("baz", SelectorOperator::NotIn, &[])],
        };
        assert_eq!(
            ls.to_selector().unwrap_err().to_string(),
            "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
        );
        assert!(!ls.matches(&Labels::new()));
    }

    #[test]
    fn invalid_match_labels_make_the_label_selector_an_error() {
        let ls = LabelSelector {
            match_labels: set(&[("Key", &"x".repeat(64))]),
            match_expressions: vec![],
        };
        let err = ls.to_selector().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "values[0][Key]: Invalid value: \"{}\": must be no more than 63 bytes",
                "x".repeat(64)
            )
        );
        assert!(!ls.matches(&set(&[("Key", &"x".repeat(64))])));
    }

    #[test]
    fn match_labels_and_match_expressions_are_anded() {
        let ls = LabelSelector {
            match_labels: set(&[("app", "web")]),
            match_expressions: vec![
                expr("tier", SelectorOperator::NotIn, &["db"]),
                expr("canary", SelectorOperator::DoesNotExist, &[]),
            ],
        };
        assert!(ls.matches(&set(&[("app", "web")])));
        assert!(ls.matches(&set(&[("app", "web"), ("tier", "fe")])));
        assert!(!ls.matches(&set(&[("app", "web"), ("tier", "db")])));
        assert!(!ls.matches(&set(&[("app", "web"), ("canary", "")])));
        assert!(!ls.matches(&set(&[("app", "api")])));
        assert!(LabelSelector::default().matches(&Labels::new()));
    }

    #[test]
    fn label_selector_uses_the_api_json_shape() {
        let ls = LabelSelector {
            match_labels: set(&[("app", "web")]),
            match_expressions: vec![
                expr("tier", SelectorOperator::In, &["fe", "be"]),
                expr("canary", SelectorOperator::DoesNotExist, &[]),
            ],
        };
        let json = serde_json::to_string(&ls).unwrap();
        assert_eq!(
            json,
            r#"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["fe","be"]},{"key":"canary","operator":"DoesNotExist"}]}"#
        );
        assert_eq!(serde_json::from_str::<LabelSelector>(&json).unwrap(), ls);
        assert_eq!(
            serde_json::to_string(&LabelSelector::default()).unwrap(),
            "{}"
        );
        let nulls: LabelSelector = serde_json::from_str(
            r#"{"matchLabels":null,"matchExpressions":[{"key":"a","operator":"Exists","values":null}]}"#,
        )
        .unwrap();
        assert_eq!(nulls.match_expressions[0].values, Vec::<String>::new());
        for op in ["In", "NotIn", "Exists", "DoesNotExist"] {
            let r: LabelSelectorRequirement =
                serde_json::from_str(&format!(r#"{{"key":"k","operator":"{op}"}}"#)).unwrap();
            assert_eq!(serde_json::to_value(r.operator).unwrap(), op);
        }
        assert!(
            serde_json::from_str::<LabelSelectorRequirement>(r#"{"key":"k","operator":"Gt"}"#)
                .is_err()
        );
    }

    #[test]
    fn format_helpers_follow_upstream() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            format_label_selector(Some(&LabelSelector::default())),
            "<none>"
        );
        let bad = LabelSelector {
            match_labels: set(&[("-x", "y")]),
            match_expressions: vec![],
        };
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        assert_eq!(format_labels(&Labels::new()), "<none>");
        // Set.String() sorts "key=value" strings, so "a.b=..." comes before "a=...".
        let ls = set(&[("a", "1"), ("a.b", "2")]);
        assert_eq!(format_labels(&ls), "a.b=2,a=1");
        assert_eq!(Selector::from_map(&ls).to_string(), "a=1,a.b=2");
    }

    #[test]
    fn requires_exact_match_finds_single_valued_equality() {
        let s = parse_ok("a in (x,y),b in (z),c=v,d==w,e!=u");
        assert_eq!(s.requires_exact_match("a"), None);
        assert_eq!(s.requires_exact_match("b"), Some("z"));
        assert_eq!(s.requires_exact_match("c"), Some("v"));
        assert_eq!(s.requires_exact_match("d"), Some("w"));
        assert_eq!(s.requires_exact_match("e"), None);
        assert_eq!(s.requires_exact_match("f"), None);
    }

    // --- Validation (content/kube_test.go, validation_test.go) ----------------------------------

    #[test]
    fn valid_label_keys_are_accepted() {
        let long = format!("{}/{}", "a".repeat(253), "b".repeat(63));
        let a63 = "a".repeat(63);
        for k in [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "1234",
            "simple/simple",
            "now-with-dashes/simple",
            "now-with-dashes/now-with-dashes",
            "now.with.dots/simple",
            "now-with.dashes-and.dots/simple",
            "1-num.2-num/3-num",
            "1234/5678",
            "1.2.3.4/5678",
            "Uppercase_Is_OK_123",
            "example.com/Uppercase_Is_OK_123",
            "requests.storage-foo",
            &a63,
            &long,
        ] {
            assert_eq!(validate_label_key(k), Ok(()), "{k}");
            assert!(label_key_ok(k), "{k}");
        }
    }

    #[test]
    fn invalid_label_keys_are_rejected() {
        let a64 = "a".repeat(64);
        let long_prefix = format!("{}/abc", "a".repeat(254));
        for k in [
            "nospecialchars%^=@",
            "cantendwithadash-",
            "-cantstartwithadash-",
            "only/one/slash",
            "Example.com/abc",
            "example_com/abc",
            "example.com/",
            "/simple",
            &a64,
            &long_prefix,
            "",
            "a..b/c",
        ] {
            assert!(validate_label_key(k).is_err(), "{k}");
            assert!(!label_key_ok(k), "{k}");
        }
    }

    #[test]
    fn label_key_messages_match_upstream() {
        assert_eq!(
            validate_label_key("example.com/"),
            Err(format!(
                "name part must be non-empty; {NAME_PART_REGEX_MSG}"
            ))
        );
        assert_eq!(
            validate_label_key("/simple"),
            Err("prefix part must be non-empty".to_string())
        );
        assert_eq!(
            validate_label_key(&"a".repeat(64)),
            Err("name part must be no more than 63 bytes".to_string())
        );
        assert_eq!(
            validate_label_key("Example.com/abc"),
            Err("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string())
        );
        assert_eq!(
            validate_label_key(&format!("{}/abc", "a".repeat(254))),
            Err("prefix part must be no more than 253 bytes".to_string())
        );
    }

    #[test]
    fn valid_label_values_are_accepted() {
        let a63 = "a".repeat(63);
        for v in [
            "simple",
            "now-with-dashes",
            "1-starts-with-num",
            "end-with-num-1",
            "1234",
            &a63,
            "",
        ] {
            assert_eq!(validate_label_value(v), Ok(()), "{v}");
            assert!(label_value_ok(v), "{v}");
        }
    }

    #[test]
    fn invalid_label_values_are_rejected() {
        let a64 = "a".repeat(64);
        for v in [
            "nospecialchars%^=@",
            "Tama-nui-te-rā.is.Māori.sun",
            "\\backslashes\\are\\bad",
            "-starts-with-dash",
            "ends-with-dash-",
            ".starts.with.dot",
            "ends.with.dot.",
            &a64,
            "trailing-newline\n",
        ] {
            assert!(validate_label_value(v).is_err(), "{v}");
            assert!(!label_value_ok(v), "{v}");
        }
        assert_eq!(
            validate_label_value("-x"),
            Err(LABEL_VALUE_REGEX_MSG.to_string())
        );
        assert_eq!(
            validate_label_value(&a64),
            Err("must be no more than 63 bytes".to_string())
        );
    }

    #[test]
    fn bad_values_are_quoted_like_go() {
        assert_eq!(
            go_quote("a\"b\\c\n\u{1}\u{7f}é\u{200b}"),
            "\"a\\\"b\\\\c\\n\\x01\\x7fé\\u200b\""
        );
        assert_eq!(
            go_json_list(&strs(&["<a&b>", "\u{1}"]), false),
            r#"["\u003ca\u0026b\u003e","\u0001"]"#
        );
        assert_eq!(go_json_list(&[], true), "null");
        assert_eq!(go_json_list(&[], false), "[]");
    }

    #[test]
    fn aggregated_errors_drop_duplicate_messages() {
        let e = FieldError {
            field: "f".into(),
            bad_value: "1".into(),
            detail: "d".into(),
        };
        assert_eq!(
            FieldErrors(vec![e.clone(), e.clone()]).to_string(),
            "f: Invalid value: 1: d"
        );
        let mut other = e.clone();
        other.field = "g".into();
        assert_eq!(
            FieldErrors(vec![e.clone(), other, e]).to_string(),
            "[f: Invalid value: 1: d, g: Invalid value: 1: d]"
        );
    }

    #[test]
    fn from_str_is_parse() {
        let s: Selector = "a=b,!c".parse().unwrap();
        assert_eq!(s, parse_ok("a=b,!c"));
        assert!("a in".parse::<Selector>().is_err());
    }

    // --- Property tests -------------------------------------------------------------------------

    const KEYS: &[&str] = &[
        "a",
        "b",
        "a.b",
        "a-b",
        "in",
        "notin",
        "app",
        "example.com/app",
        "k8s.io/x_Y",
        "1",
        "Z9",
    ];
    const VALUES: &[&str] = &[
        "",
        "a",
        "b",
        "in",
        "notin",
        "web",
        "0",
        "1",
        "2",
        "05",
        "42",
        "-3",
        "+4",
        "x.y_z",
        "Q",
        "99999999999999999999",
    ];

    fn key_strategy() -> impl Strategy<Value = String> {
        prop::sample::select(KEYS).prop_map(str::to_string)
    }

    fn value_strategy() -> impl Strategy<Value = String> {
        prop::sample::select(VALUES).prop_map(str::to_string)
    }

    fn labels_strategy() -> impl Strategy<Value = Labels> {
        prop::collection::btree_map(key_strategy(), value_strategy(), 0..6)
    }

    fn operator_strategy() -> impl Strategy<Value = Operator> {
        prop::sample::select(vec![
            Operator::Equals,
            Operator::DoubleEquals,
            Operator::NotEquals,
            Operator::In,
            Operator::NotIn,
            Operator::Exists,
            Operator::DoesNotExist,
            Operator::GreaterThan,
            Operator::LessThan,
        ])
    }

    /// Requirements that `Requirement::new` may or may not accept; invalid ones are skipped.
    fn requirement_strategy() -> impl Strategy<Value = Option<Requirement>> {
        (
            key_strategy(),
            operator_strategy(),
            prop::collection::vec(value_strategy(), 0..4),
        )
            .prop_map(|(k, op, vals)| {
                let vals = match op {
                    Operator::Exists | Operator::DoesNotExist => vec![],
                    Operator::In | Operator::NotIn => vals,
                    _ => vals.into_iter().take(1).collect(),
                };
                Requirement::new(&k, op, vals).ok()
            })
    }

    fn selector_strategy() -> impl Strategy<Value = Selector> {
        prop::collection::vec(requirement_strategy(), 0..6)
            .prop_map(|reqs| Selector::everything().with_requirements(reqs.into_iter().flatten()))
    }

    fn label_selector_strategy() -> impl Strategy<Value = LabelSelector> {
        let op = prop::sample::select(vec![
            SelectorOperator::In,
            SelectorOperator::NotIn,
            SelectorOperator::Exists,
            SelectorOperator::DoesNotExist,
        ]);
        let any_value = prop_oneof![value_strategy(), Just("bad value".to_string())];
        let e = (key_strategy(), op, prop::collection::vec(any_value, 0..3)).prop_map(
            |(key, operator, values)| LabelSelectorRequirement {
                key,
                operator,
                values,
            },
        );
        (labels_strategy(), prop::collection::vec(e, 0..4)).prop_map(
            |(match_labels, match_expressions)| LabelSelector {
                match_labels,
                match_expressions,
            },
        )
    }

    /// Strings rich in selector syntax, so the parser is exercised beyond its first token.
    fn selector_like_string() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "x", "y", "a.b/c", "in", "notin", " ", "\t", "=", "==", "!=", "!", "(", ")", ",",
                ">", "<", "1", "-", "", "é", "\0", "/", "a/b/c",
            ]),
            0..16,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn printing_then_parsing_gives_the_same_selector(
            s in selector_strategy(),
            ls in prop::collection::vec(labels_strategy(), 1..4),
        ) {
            let printed = s.to_string();
            let back = Selector::parse(&printed);
            prop_assert_eq!(back.as_ref(), Ok(&s), "printed {:?}", printed);
            let back = back.unwrap();
            for l in &ls {
                prop_assert_eq!(back.matches(l), s.matches(l));
            }
        }

        #[test]
        fn parse_never_panics_on_arbitrary_strings(input in any::<String>()) {
            if let Ok(s) = Selector::parse(&input) {
                prop_assert_eq!(Selector::parse(&s.to_string()), Ok(s));
            }
        }

        #[test]
        fn parse_never_panics_on_selector_like_strings(input in selector_like_string()) {
            match Selector::parse(&input) {
                Ok(s) => prop_assert_eq!(Selector::parse(&s.to_string()), Ok(s)),
                Err(e) => prop_assert!(e.position().is_some_and(|p| p <= input.len())),
            }
        }

        #[test]
        fn match_labels_selector_matches_like_a_map_selector(
            m in labels_strategy(),
            l in labels_strategy(),
        ) {
            let ls = LabelSelector { match_labels: m.clone(), match_expressions: vec![] };
            let valid_map = m.iter().all(|(k, v)| label_key_ok(k) && label_value_ok(v));
            prop_assume!(valid_map);
            prop_assert_eq!(ls.matches(&l), Selector::from_map(&m).matches(&l));
            prop_assert_eq!(ls.to_selector(), Ok(Selector::from_map(&m)));
        }

        #[test]
        fn label_selector_matches_agrees_with_its_selector(
            ls in label_selector_strategy(),
            l in labels_strategy(),
        ) {
            let via_selector = ls.to_selector().map(|s| s.matches(&l)).unwrap_or(false);
            prop_assert_eq!(ls.matches(&l), via_selector);
        }

        #[test]
        fn validators_agree_with_their_fast_checks(s in "[-a-zA-Z0-9_./]{0,70}|\\PC{0,10}") {
            prop_assert_eq!(validate_label_key(&s).is_ok(), label_key_ok(&s));
            prop_assert_eq!(validate_label_value(&s).is_ok(), label_value_ok(&s));
        }
    }
}
