//! A text expectation (`equals`, `contains`, `matches`, `not`): what a Test's
//! `expect` and a reload's declared check hold a step's output to. It lives below
//! both, so that the model (reload) does not depend on the Test format.

use serde::Deserialize;

/// A text expectation: every given key must hold.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Matcher {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<Matcher>>,
}

impl Matcher {
    /// Checks `text`; the error says what was expected.
    pub fn check(&self, text: &str) -> Result<(), String> {
        if let Some(e) = &self.equals {
            if text != e {
                return Err(format!("expected exactly {e:?}"));
            }
        }
        if let Some(c) = &self.contains {
            if !text.contains(c.as_str()) {
                return Err(format!("expected to contain {c:?}"));
            }
        }
        if let Some(m) = &self.matches {
            let re = regex::Regex::new(m).map_err(|e| e.to_string())?;
            if !re.is_match(text) {
                return Err(format!("expected to match /{m}/"));
            }
        }
        if let Some(n) = &self.not {
            if n.check(text).is_ok() {
                return Err(format!("expected not: {}", n.describe()));
            }
        }
        Ok(())
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.equals {
            parts.push(format!("equals {e:?}"));
        }
        if let Some(c) = &self.contains {
            parts.push(format!("contains {c:?}"));
        }
        if let Some(m) = &self.matches {
            parts.push(format!("matches /{m}/"));
        }
        if let Some(n) = &self.not {
            parts.push(format!("not ({})", n.describe()));
        }
        parts.join(" and ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers() {
        let m = Matcher {
            contains: Some("ok".into()),
            not: Some(Box::new(Matcher { contains: Some("bad".into()), ..Default::default() })),
            ..Default::default()
        };
        assert!(m.check("all ok").is_ok());
        assert_eq!(m.check("ok but bad").unwrap_err(), "expected not: contains \"bad\"");
        assert_eq!(m.check("nope").unwrap_err(), "expected to contain \"ok\"");
    }
}
