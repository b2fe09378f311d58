//! Authentication: every request carries the environment's bearer token
//! (`Authorization: Bearer <token>`), or it is refused with a 401 `Status`.
//! There is no anonymous access, not even to /version or /healthz. RBAC is
//! not enforced: whoever holds the token may do everything (docs/api.md).

use base64::Engine;

/// A bearer token: 32 random bytes, URL-safe base64.
pub fn new_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(super::meta::random_bytes(32))
}

/// The tokens the server accepts.
#[derive(Clone)]
pub struct Tokens {
    tokens: Vec<String>,
}

impl Tokens {
    pub fn new(tokens: Vec<String>) -> Tokens {
        Tokens { tokens }
    }

    /// Whether the `Authorization` header carries an accepted token; the
    /// comparison takes the same time wherever the tokens differ.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some(h) = header else { return false };
        let Some(given) = h.strip_prefix("Bearer ").map(str::trim) else { return false };
        self.tokens.iter().any(|t| constant_time_eq(t.as_bytes(), given.as_bytes()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_passes() {
        let t = new_token();
        let tokens = Tokens::new(vec![t.clone()]);
        assert!(tokens.check(Some(&format!("Bearer {t}"))));
        assert!(!tokens.check(Some("Bearer nope")));
        assert!(!tokens.check(Some(&t)));
        assert!(!tokens.check(None));
        assert_ne!(new_token(), t);
    }
}
