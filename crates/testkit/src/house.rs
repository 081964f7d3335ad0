//! The house rule's path finder: which of the crate's modules a file names. The core's
//! module order (crates/thingstray/tests/integration/house.rs) and the desktop crate's
//! chain (src-tauri/src/lib.rs) are both checked with it.

/// The crate paths `code` names, with their line numbers (from 1): `crate::x::…`,
/// `crate::x`, `crate::{x, y::z}`, as the first segment (`x`, `y`). Comment lines are
/// skipped (a doc link may name a caller), and so are `$crate::` and `other_crate::`.
pub fn uses(code: &str) -> Vec<(usize, String)> {
    let mut out = vec![];
    for (n, line) in code.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for (at, _) in line.match_indices("crate::") {
            if line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
                continue;
            }
            let rest = &line[at + "crate::".len()..];
            let paths = match rest.strip_prefix('{') {
                Some(group) => split_top_level(group),
                None => vec![rest.to_string()],
            };
            for p in paths {
                let name: String = p.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.push((n + 1, name));
                }
            }
        }
    }
    out
}

/// The items of a `{…}` group up to its closing brace, split at its top-level commas.
fn split_top_level(group: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (vec![], String::new(), 0);
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_path_is_seen() {
        let code = "use crate::a::B;\nuse crate::{c, d::{E, F}, g};\n// crate::h in a comment\nlet x = crate::i::j();\n$crate::k; my_crate::l;";
        let found: Vec<_> = uses(code).into_iter().map(|(n, m)| format!("{n}:{m}")).collect();
        assert_eq!(found, ["1:a", "2:c", "2:d", "2:g", "4:i"]);
    }
}
