//! "Did you mean …?" for configuration mistakes: the nearest valid name to a
//! mistyped key, enum value or component type, and the messages that offer
//! it together with everything that would have been accepted.
//!
//! [`nearest`] folds case and `-`/`_` (so `scrape-interval`, `ScrapeInterval`
//! and `scrapeinterval` all find `scrape_interval`), then compares by edit
//! distance, a swap of two neighbouring letters counting as one edit. A
//! name further away than about a quarter of its length gets no suggestion:
//! an unrelated word should not be "corrected". A word that is the start
//! or end of exactly one name (`refresh` → `refresh_interval`) finds it
//! too. Use [`unknown_key`] for a
//! key, [`unknown_value`] for an enum value and [`unknown_type`] for a
//! component type.

use crate::error::{join_path, Problem};

/// The valid name closest to `word`, if one is close enough to be a typo.
/// Equally close candidates are told apart by the distance as written
/// (`otlphtp` → `otlphttp`, not `otlp_http`), the longer common start, then
/// by the nearer character where they first differ (`TLS14` → `TLS13`), then
/// by their order.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let folded = fold(word);
    if folded.is_empty() {
        return None;
    }
    let len = folded.chars().count();
    // A word of one or two letters is never "nearly" another one.
    let limit = (len / 4).clamp(1, 3).min(len - 1);
    candidates
        .iter()
        .filter(|c| **c != word)
        .map(|c| {
            let other = fold(c);
            let (common, gap) = first_difference(&folded, &other);
            let rank = (
                edit_distance(&folded, &other),
                edit_distance(word, c),
                usize::MAX - common,
                gap,
            );
            (rank, *c)
        })
        .filter(|((d, _, _, _), _)| *d <= limit)
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, c)| c)
        .or_else(|| only_one_extending(word, candidates))
}

/// The one candidate whose words start or end with all the words of
/// `word` (`refresh` → `refresh_interval`, `queue` → `sending_queue`);
/// none if several do or `word` is shorter than four letters.
fn only_one_extending<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let words = |s: &str| -> Vec<String> {
        s.split(['_', '-'])
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let mine = words(word);
    if fold(word).chars().count() < 4 {
        return None;
    }
    let mut found = candidates.iter().filter(|c| {
        let theirs = words(c);
        theirs.len() > mine.len() && (theirs.starts_with(&mine) || theirs.ends_with(&mine))
    });
    match (found.next(), found.next()) {
        (Some(one), None) => Some(one),
        _ => None,
    }
}

/// How many characters `a` and `b` share at the start, and how far apart
/// their first differing characters are.
fn first_difference(a: &str, b: &str) -> (usize, u32) {
    let mut common = 0;
    for (x, y) in a.chars().zip(b.chars()) {
        if x != y {
            return (common, (x as u32).abs_diff(y as u32));
        }
        common += 1;
    }
    (common, 0)
}

/// Lower case without `-` and `_`: the differences a person does not see as
/// a different word.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The optimal string alignment distance: insertions, deletions,
/// substitutions and swaps of two neighbouring characters each cost one.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

/// `unknown key `x`: did you mean `y`? (valid keys: a, b, c)`.
pub fn unknown_key_message(key: &str, valid: &[&str]) -> String {
    let mut out = format!("unknown key `{key}`");
    if let Some(near) = nearest(key, valid) {
        out.push_str(&format!(": did you mean `{near}`?"));
    }
    if valid.is_empty() {
        out.push_str(" (this block takes no keys)");
    } else {
        out.push_str(&format!(" (valid keys: {})", valid.join(", ")));
    }
    out
}

/// The problem for the unknown key `key` found in the block at `path`,
/// which accepts `valid`.
pub fn unknown_key(path: &str, key: &str, valid: &[&str]) -> Problem {
    Problem::new(join_path(path, key), unknown_key_message(key, valid))
}

/// `unknown value `x` for key: did you mean `y`? (expected one of a, b)`.
pub fn unknown_value(value: &str, key: &str, expected: &[&str]) -> String {
    let mut out = format!("unknown value `{value}`");
    if !key.is_empty() {
        out.push_str(&format!(" for {key}"));
    }
    if let Some(near) = nearest(value, expected) {
        out.push_str(&format!(": did you mean `{near}`?"));
    }
    match expected {
        [] => {}
        [only] => out.push_str(&format!(" (expected `{only}`)")),
        _ => out.push_str(&format!(" (expected one of {})", expected.join(", "))),
    }
    out
}

/// `unknown exporter type "otlphtp": did you mean "otlphttp"? (known: …)`;
/// `instead`, when given, says what profcol offers in place of a type it
/// does not have and replaces the guess.
pub fn unknown_type(kind: &str, name: &str, known: &[&str], instead: Option<&str>) -> String {
    let mut out = format!("unknown {kind} type {name:?}");
    match instead {
        Some(instead) => out.push_str(&format!(": {instead}")),
        None => {
            if let Some(near) = nearest(name, known) {
                out.push_str(&format!(": did you mean {near:?}?"));
            }
        }
    }
    if known.is_empty() {
        out.push_str(&format!(" (profcol has no {kind} types yet)"));
    } else {
        out.push_str(&format!(" (known: {})", known.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &[&str] = &[
        "B",
        "targets",
        "job_name",
        "scrape_interval",
        "scrape_timeout",
        "scheme",
        "params",
    ];

    #[test]
    fn a_transposition_is_one_edit() {
        assert_eq!(edit_distance("scheme", "scheme"), 0);
        assert_eq!(edit_distance("shceme", "scheme"), 1);
        assert_eq!(edit_distance("schme", "scheme"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn typos_find_their_key() {
        for typo in [
            "scrape_intervall",
            "scrape-interval",
            "scrapeinterval",
            "ScrapeInterval",
            "scrape_inetrval",
            "scrape_interva",
        ] {
            assert_eq!(nearest(typo, SCRAPE), Some("scrape_interval"), "{typo}");
        }
        assert_eq!(nearest("shceme", SCRAPE), Some("scheme"));
        assert_eq!(nearest("param", SCRAPE), Some("params"));
        assert_eq!(
            nearest("otlphtp", &["otlp_http", "otlphttp"]),
            Some("otlphttp")
        );
        assert_eq!(nearest("interval", SCRAPE), Some("scrape_interval"));
        assert_eq!(nearest("name", SCRAPE), Some("job_name"));
        assert_eq!(nearest("queue", &["queue_size", "sending_queue"]), None);
    }

    #[test]
    fn unrelated_words_find_nothing() {
        for word in ["bogus", "forward_to", "x", "", "scrape", "time", "-", "C"] {
            assert_eq!(nearest(word, SCRAPE), None, "{word}");
        }
    }

    #[test]
    fn messages_read_as_sentences() {
        assert_eq!(
            unknown_key_message("scrape_intervall", &["scheme", "scrape_interval"]),
            "unknown key `scrape_intervall`: did you mean `scrape_interval`? (valid keys: scheme, scrape_interval)"
        );
        assert_eq!(
            unknown_key("r", "bogus", &["scheme"]).to_string(),
            "r::bogus: unknown key `bogus` (valid keys: scheme)"
        );
        assert_eq!(
            unknown_key_message("a", &[]),
            "unknown key `a` (this block takes no keys)"
        );
        assert_eq!(
            unknown_value("TLS14", "min_version", &["TLS12", "TLS13"]),
            "unknown value `TLS14` for min_version: did you mean `TLS13`? (expected one of TLS12, TLS13)"
        );
        assert_eq!(
            unknown_value("loud", "", &["basic"]),
            "unknown value `loud` (expected `basic`)"
        );
        assert_eq!(
            unknown_type("exporter", "otlphtp", &["otlp", "otlphttp"], None),
            "unknown exporter type \"otlphtp\": did you mean \"otlphttp\"? (known: otlp, otlphttp)"
        );
        assert_eq!(
            unknown_type("extension", "zpages", &[], Some("use the admin server")),
            "unknown extension type \"zpages\": use the admin server (profcol has no extension types yet)"
        );
    }
}
