//! The window a scraped profile covers. OTLP's `time_unix_nano` is the
//! *start* of `[time, time + duration)`, as Go's pprof writes `time_nanos`;
//! some producers write the time they serialized the profile instead, its
//! end (`@datadog/pprof`, which the Node agents use, stamps `Date.now()` on a
//! wall profile). [`window_start`] tells the two apart from when the scrape
//! ran.

/// The start of the window of a profile whose `time_nanos` is `time` and
/// `duration_nanos` is `duration`, scraped from `scrape_start` to
/// `scrape_end` (Unix nanoseconds, profcol's clock), when `time` is not it:
/// the window would end after the scrape did and `time` lies nearer the
/// scrape's end than its start (and not more than a second after the
/// scrape's end), so it marks the end. `None` leaves the
/// profile as served (no duration, a window already in the past, or a
/// target clock too far off to tell).
pub fn window_start(time: i64, duration: i64, scrape_start: i64, scrape_end: i64) -> Option<i64> {
    if time <= 0 || duration <= 0 || time.saturating_add(duration) <= scrape_end {
        return None;
    }
    let from_end = time.abs_diff(scrape_end);
    let from_start = time.abs_diff(scrape_start);
    (from_end < from_start && time <= scrape_end.saturating_add(CLOCK_SLACK))
        .then(|| time - duration)
}

/// How far a target's clock may run ahead of profcol's for an end stamp
/// to be recognised as one.
const CLOCK_SLACK: i64 = 1_000_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000_000;
    const SEC: i64 = 1_000_000_000;

    #[test]
    fn an_end_stamp_becomes_the_start() {
        // Node: a 14 s wall profile stamped when serialized, at the end.
        assert_eq!(
            window_start(S + 14 * SEC, 14 * SEC, S, S + 14 * SEC + SEC / 10),
            Some(S)
        );
    }

    #[test]
    fn a_start_stamp_or_a_short_profile_is_left_alone() {
        // Go: stamped when profiling began.
        assert_eq!(window_start(S + SEC / 100, 14 * SEC, S, S + 14 * SEC), None);
        // A snapshot, a window already over, no time.
        assert_eq!(window_start(S + SEC, 0, S, S + 2 * SEC), None);
        assert_eq!(window_start(S - 20 * SEC, 14 * SEC, S, S + SEC), None);
        assert_eq!(window_start(0, 14 * SEC, S, S + 14 * SEC), None);
        // A target clock far ahead: nearer neither end, left as served.
        assert_eq!(window_start(S + 60 * SEC, 14 * SEC, S, S + 14 * SEC), None);
    }
}
