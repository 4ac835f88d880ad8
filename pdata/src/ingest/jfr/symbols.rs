//! Class names the JVM makes up at run time, merged the way Grafana
//! Pyroscope merges them, so that one call site keeps one frame name across
//! restarts: `jdk/internal/reflect/GeneratedMethodAccessor31` →
//! `…GeneratedMethodAccessor_`, `Foo$$Lambda$669.0x0000000800fd7318` and
//! `Foo$$Lambda.0x00007ffa600c4da0` → `Foo$$Lambda_`.

const ACCESSOR: &str = "jdk/internal/reflect/GeneratedMethodAccessor";
const LAMBDA: &str = "$$Lambda";

/// The class name with its generated suffix replaced by `_`.
pub fn merge_generated(class: &str) -> String {
    if let Some(rest) = class.strip_prefix(ACCESSOR) {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return format!("{ACCESSOR}_");
        }
    }
    if let Some(i) = class.find(LAMBDA) {
        let (head, tail) = class.split_at(i + LAMBDA.len());
        if !head.is_empty() && lambda_suffix(tail) {
            return format!("{head}_");
        }
    }
    class.to_string()
}

/// `$669.0x…`, `.0x…`, `/0x…` or digits: what follows `$$Lambda` in a
/// generated class name.
fn lambda_suffix(s: &str) -> bool {
    let (dollar, s) = match s.strip_prefix('$') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &s[digits..];
    if rest.is_empty() {
        return digits > 0 && !dollar;
    }
    let Some(hex) = rest.strip_prefix(['.', '/']) else {
        return false;
    };
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    !hex.is_empty()
        && hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::merge_generated;

    #[test]
    fn generated_names_merge() {
        for (name, want) in [
            (
                "jdk/internal/reflect/GeneratedMethodAccessor31",
                "jdk/internal/reflect/GeneratedMethodAccessor_",
            ),
            (
                "org/example/OrderService$$Lambda$669.0x0000000800fd7318",
                "org/example/OrderService$$Lambda_",
            ),
            ("Fib$$Lambda.0x00007ffa600c4da0", "Fib$$Lambda_"),
            ("Fib$$Lambda/0x00007ffa600c4da0", "Fib$$Lambda_"),
            ("Fib$$Lambda12", "Fib$$Lambda_"),
            ("Fib$$Lambda$12", "Fib$$Lambda$12"),
            ("java/lang/Thread", "java/lang/Thread"),
            ("Fib$$Lambda$x", "Fib$$Lambda$x"),
            (
                "jdk/internal/reflect/GeneratedMethodAccessor",
                "jdk/internal/reflect/GeneratedMethodAccessor",
            ),
        ] {
            assert_eq!(merge_generated(name), want, "{name}");
        }
    }
}
