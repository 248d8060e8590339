//! Revision hashes of pod templates, after `pkg/controller/history/controller_history.go`
//! (`HashControllerRevision`) and `pkg/controller/controller_utils.go` (`ComputeHash`).
//!
//! Upstream hashes the revision's data with FNV-32a (plus the collision count when set) and
//! renders the 32-bit sum's decimal digits with `rand.SafeEncodeString`. kubesim hashes the
//! template's JSON (fields in declaration order, maps sorted), so the same template always
//! gives the same hash; the values differ from upstream's (which hashes a Go object dump).
//!
//! Simplification: no ControllerRevision objects are stored. The DaemonSet and StatefulSet
//! controllers label their pods with the hash (`controller-revision-hash`) and keep the
//! templates they need in memory.

use crate::api::objects::PodTemplateSpec;

/// The pod label carrying a pod's revision hash (upstream `ControllerRevisionHashLabelKey`).
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";

/// `rand.SafeEncodeString`'s alphabet: no vowels, no look-alike digits.
const SAFE_ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-32a.
fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// `rand.SafeEncodeString`: each byte mapped into [`SAFE_ALPHANUMS`].
fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE_ALPHANUMS[usize::from(b) % SAFE_ALPHANUMS.len()] as char)
        .collect()
}

/// The revision hash of `template` (with `collision_count` mixed in when set, as upstream).
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    // Serializing plain data structs into a Vec cannot fail; an empty hash input would still
    // give a stable (if shared) hash.
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    if let Some(c) = collision_count {
        bytes.extend_from_slice(&c.to_le_bytes());
    }
    safe_encode(&fnv32a(&bytes).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32a_matches_the_published_test_values() {
        assert_eq!(fnv32a(b""), 0x811c_9dc5);
        assert_eq!(fnv32a(b"a"), 0xe40c_292c);
        assert_eq!(fnv32a(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn template_hash_is_stable_and_changes_with_the_template() {
        let mut t = PodTemplateSpec::default();
        let a = template_hash(&t, None);
        assert_eq!(a, template_hash(&t, None));
        assert!(a.bytes().all(|b| SAFE_ALPHANUMS.contains(&b)), "{a}");
        t.metadata.labels.insert("app".into(), "x".into());
        assert_ne!(a, template_hash(&t, None));
        assert_ne!(template_hash(&t, None), template_hash(&t, Some(1)));
    }
}
