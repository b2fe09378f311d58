//! Kubernetes resource quantities ("100m", "1Gi", "1.5") as numbers.

/// The value of a quantity in base units (cores, bytes), or `None` if malformed.
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

#[cfg(test)]
mod tests {
    fn check(input: &str, expect: Option<f64>) {
        assert_eq!(super::parse(input), expect, "{input}");
    }

    #[test]
    fn quantities() {
        check("100m", Some(0.1));
        check("1", Some(1.0));
        check("1Gi", Some(1073741824.0));
        check("500Mi", Some(524288000.0));
        check("1e3", Some(1000.0));
        check("1.5", Some(1.5));
        check("lots", None);
        check("1Zi", None);
    }
}
