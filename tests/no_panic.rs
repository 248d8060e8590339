//! No input makes the scenario loader panic: random edits of a real scenario either load or
//! give diagnostics.

use std::path::Path;

use kubesim::scenario;
use proptest::prelude::*;

const QUICKSTART: &str = include_str!("../scenarios/quickstart.yaml");

fn no_files(_: &Path) -> std::io::Result<String> {
    Err(std::io::Error::other("no includes in this test"))
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, String),
    Replace(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), "[ -~\n\t]{1,12}").prop_map(|(a, s)| Edit::Insert(a, s)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                ':', '-', ' ', '\n', '"', '{', '[', '&', '*', '!', '1', 'x'
            ])
        )
            .prop_map(|(a, c)| Edit::Replace(a, c)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len().max(1);
        match e {
            Edit::Delete(at, len) => {
                let at = at % n;
                let end = (at + len).min(chars.len());
                chars.drain(at.min(end)..end);
            }
            Edit::Insert(at, s) => {
                let at = at % (chars.len() + 1);
                chars.splice(at..at, s.chars());
            }
            Edit::Replace(at, c) => {
                if !chars.is_empty() {
                    let at = at % chars.len();
                    chars[at] = *c;
                }
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn edited_scenarios_load_or_report_diagnostics(edits in prop::collection::vec(edit(), 1..6)) {
        let text = apply(QUICKSTART, &edits);
        if let Err(e) = scenario::load_str("edited.yaml", &text, Path::new("."), &no_files) {
            prop_assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                prop_assert_eq!(&d.file, "edited.yaml");
                prop_assert!(!d.message.is_empty());
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics_the_loader(text in "\\PC{0,200}") {
        let _ = scenario::load_str("any.yaml", &text, Path::new("."), &no_files);
    }
}

#[test]
fn the_unedited_quickstart_loads() {
    let s = scenario::load_str("quickstart.yaml", QUICKSTART, Path::new("."), &no_files).unwrap();
    assert_eq!(s.name, "quickstart");
    assert_eq!(s.config.seed, 42);
}
