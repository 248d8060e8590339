//! A small reader for hand-decoded scenario sections (`spec.events`, `spec.expect`): typed
//! getters over one mapping that report every problem at its field path, and unknown keys.
//!
//! These sections are decoded by hand rather than with serde because each entry holds
//! exactly one action (or subject) key among many, and a wrong one must be reported at its
//! own line:column with a message naming what is accepted.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::api::selector::Selector;
use crate::scenario::yaml::{path_index, path_key};
use crate::sim::{SimDuration, parse_duration};

/// Where problems go: (field path, message).
pub type Problems = Vec<(String, String)>;

/// One mapping being read. Keys read are remembered so the rest can be reported as unknown.
pub struct Fields<'a> {
    pub path: String,
    map: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    /// The mapping at `path`, or a problem when `value` is not one.
    pub fn of(value: &'a Value, path: &str, problems: &mut Problems) -> Option<Fields<'a>> {
        match value.as_object() {
            Some(map) => Some(Fields {
                path: path.to_string(),
                map,
                used: Vec::new(),
            }),
            None => {
                problems.push((path.to_string(), "expected a mapping".into()));
                None
            }
        }
    }

    pub fn field(&self, key: &str) -> String {
        path_key(&self.path, key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The raw value of `key`, marking it used.
    pub fn raw(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key)
    }

    pub fn string(&mut self, key: &'static str, problems: &mut Problems) -> Option<String> {
        let v = self.raw(key)?;
        match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                problems.push((self.field(key), "expected a string".into()));
                None
            }
        }
    }

    pub fn required_string(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
    ) -> Option<String> {
        if !self.has(key) {
            self.used.push(key);
            problems.push((self.field(key), "Required value".into()));
            return None;
        }
        self.string(key, problems)
    }

    pub fn int(&mut self, key: &'static str, problems: &mut Problems) -> Option<i64> {
        let v = self.raw(key)?;
        match v.as_i64() {
            Some(n) => Some(n),
            None => {
                problems.push((self.field(key), "expected an integer".into()));
                None
            }
        }
    }

    /// Any finite number.
    pub fn number(&mut self, key: &'static str, problems: &mut Problems) -> Option<f64> {
        let v = self.raw(key)?;
        match v.as_f64().filter(|x| x.is_finite()) {
            Some(x) => Some(x),
            None => {
                problems.push((self.field(key), "expected a number".into()));
                None
            }
        }
    }

    /// A non-negative integer that fits an i32 (replica counts and the like).
    pub fn count(&mut self, key: &'static str, problems: &mut Problems) -> Option<i32> {
        let n = self.int(key, problems)?;
        match i32::try_from(n) {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                problems.push((
                    self.field(key),
                    format!("Invalid value: {n}: must be between 0 and 2147483647"),
                ));
                None
            }
        }
    }

    pub fn bool(&mut self, key: &'static str, problems: &mut Problems) -> Option<bool> {
        let v = self.raw(key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                problems.push((self.field(key), "expected true or false".into()));
                None
            }
        }
    }

    pub fn duration(&mut self, key: &'static str, problems: &mut Problems) -> Option<SimDuration> {
        let v = self.raw(key)?;
        let parsed = match v {
            Value::String(s) => parse_duration(s),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(SimDuration::ZERO),
            _ => Err("expected a duration such as 30s, 1m30s or 2h".to_string()),
        };
        match parsed {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push((self.field(key), e));
                None
            }
        }
    }

    /// A label selector in kubectl's string syntax (`app=web,tier!=db`) or a
    /// `{matchLabels, matchExpressions}` mapping.
    pub fn selector(&mut self, key: &'static str, problems: &mut Problems) -> Option<Selector> {
        let v = self.raw(key)?;
        let parsed = match v {
            Value::String(s) => Selector::parse(s).map_err(|e| e.to_string()),
            Value::Object(_) => {
                match serde_json::from_value::<crate::api::selector::LabelSelector>(v.clone()) {
                    Ok(ls) => ls.to_selector().map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
            _ => Err("expected a label selector such as app=web".to_string()),
        };
        match parsed {
            Ok(s) => Some(s),
            Err(e) => {
                problems.push((self.field(key), format!("Invalid value: {e}")));
                None
            }
        }
    }

    /// A mapping of strings (labels to add).
    pub fn string_map(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
    ) -> Option<BTreeMap<String, String>> {
        let v = self.raw(key)?;
        let Some(map) = v.as_object() else {
            problems.push((self.field(key), "expected a mapping of strings".into()));
            return None;
        };
        let mut out = BTreeMap::new();
        for (k, v) in map {
            match v.as_str() {
                Some(s) => {
                    out.insert(k.clone(), s.to_string());
                }
                None => problems.push((path_key(&self.field(key), k), "expected a string".into())),
            }
        }
        Some(out)
    }

    /// A list of strings (label keys to remove); a single string is a list of one.
    pub fn string_list(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
    ) -> Option<Vec<String>> {
        let v = self.raw(key)?;
        match v {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => out.push(s.to_string()),
                        None => problems
                            .push((path_index(&self.field(key), i), "expected a string".into())),
                    }
                }
                Some(out)
            }
            _ => {
                problems.push((self.field(key), "expected a list of strings".into()));
                None
            }
        }
    }

    /// Reports every key not read, naming the accepted ones.
    pub fn finish(self, problems: &mut Problems) {
        for key in self.map.keys() {
            if !self.used.contains(&key.as_str()) {
                let mut accepted: Vec<&str> = self.used.clone();
                accepted.sort_unstable();
                accepted.dedup();
                problems.push((
                    path_key(&self.path, key),
                    format!(
                        "unknown field {key:?}, expected one of {}",
                        accepted.join(", ")
                    ),
                ));
            }
        }
    }
}
