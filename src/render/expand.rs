//! `$(VAR)` references, expanded with the kubelet's rules
//! (kubernetes/kubernetes third_party/forked/golang/expansion, ported):
//!
//! - `$(NAME)` becomes NAME's value when the mapping knows NAME, and stays as
//!   written (`$(NAME)`) when it does not;
//! - `$$` is an escaped `$`: `$$(NAME)` becomes the text `$(NAME)`;
//! - a `$` before anything else, a `$(` with no closing `)` and a `$` at the
//!   end stay as they are;
//! - the name is everything up to the first `)`, so nothing nests.
//!
//! Which variables a reference may see is the caller's: the kubelet expands an
//! env `value` against the variables defined before it and the Service
//! variables, `command` and `args` against the container's whole
//! environment, and an exec probe's command against the literal `value`s of
//! the container's `env` only (see `render::env`).

/// Expands `$(NAME)` references in `input`, asking `lookup` for each name.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    // Everything before `copied` is in `out` already.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' || i + 1 == bytes.len() {
            i += 1;
            continue;
        }
        out.push_str(&input[copied..i]);
        match bytes[i + 1] {
            // An escaped operator: one `$` goes out, and the reading goes on
            // after the pair, so `$$(A)` leaves `$(A)` as text.
            b'$' => {
                out.push('$');
                i += 2;
            }
            b'(' => match input[i + 2..].find(')') {
                Some(len) => {
                    let name = &input[i + 2..i + 2 + len];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    i += 2 + len + 1;
                }
                // An incomplete reference is text; the rest is read on from
                // the `(`, as the kubelet does.
                None => {
                    out.push_str("$(");
                    i += 2;
                }
            },
            // A `$` before anything else is text with the byte after it.
            // Both are ASCII or the first byte of a character whose rest
            // follows from `copied`, so the string stays whole.
            _ => {
                let next = input[i + 1..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&input[i..i + 1 + next]);
                i += 1 + next;
            }
        }
        copied = i;
    }
    out.push_str(&input[copied..]);
    out
}

/// A lookup over name/value pairs, the later pair winning, as a map built in
/// order would answer.
pub fn lookup_in<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| vars.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case: the input and what it expands to, against VAR_A=A,
    /// VAR_B=B, VAR_C=C, VAR_REF=$(VAR_A), VAR_EMPTY="" and a name with a
    /// space.
    fn check(input: &str, expect: &str) {
        let vars = [
            ("VAR_A", "A"),
            ("VAR_B", "B"),
            ("VAR_C", "C"),
            ("VAR_REF", "$(VAR_A)"),
            ("VAR_EMPTY", ""),
            ("VAR SPACE", "s"),
        ];
        assert_eq!(expand(input, &lookup_in(&vars)), expect, "{input:?}");
    }

    /// The cases of the kubelet's expansion tests, by their rules.
    #[test]
    fn the_kubelets_rules() {
        check("$(VAR_A)", "A");
        check("___$(VAR_B)___", "___B___");
        check("$(VAR_A)-$(VAR_A)", "A-A");
        check("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC");
        check("f000-$$VAR_A", "f000-$VAR_A");
        check("$$$(VAR_A)", "$A");
        check("$$$$$$$(VAR_A)", "$$$A");
        check("$$$$$$$$(VAR_A)", "$$$$(VAR_A)");
        check("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A");
        check("$$(VAR_A)$$(VAR_A)", "$(VAR_A)$(VAR_A)");
        // A value is not expanded again.
        check("$(VAR_REF)", "$(VAR_A)");
        check("$(VAR_EMPTY)", "");
        // Undefined references stay as written.
        check("$(VAR_DNE)", "$(VAR_DNE)");
        check("foo$(VAR_DNE)bar", "foo$(VAR_DNE)bar");
        check("$()", "$()");
        // Incomplete references and lone operators are text.
        check("$(VAR_A", "$(VAR_A");
        check("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)");
        check("$(", "$(");
        check("$", "$");
        check("$VAR_A", "$VAR_A");
        check("${VAR_A}", "${VAR_A}");
        check("f00$", "f00$");
        check("$$", "$");
        check("$$$", "$$");
        check("$(VAR SPACE)", "s");
        check("$(VAR_A)$", "A$");
        // Characters beyond ASCII pass through, also right after a `$`.
        check("é$é$(VAR_A)ü", "é$éAü");
        check("", "");
    }
}
