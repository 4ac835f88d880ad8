//! Keeps every request under the exporter's `max_request_bytes`: a set of
//! items (profiles, series) whose encoding is too large is halved until each
//! half fits; a single item that alone is over the limit cannot be sent and
//! is handed to `too_large` (which counts and logs it), never lost silently.

/// Encodes `items` into requests of at most `max` bytes each (0 = no
/// limit). Returns each request's bytes with the items in it.
pub fn split_to_fit<T>(
    items: Vec<T>,
    max: u64,
    encode: &dyn Fn(&[T]) -> Vec<u8>,
    too_large: &mut dyn FnMut(usize),
) -> Vec<(Vec<u8>, Vec<T>)> {
    let mut out = Vec::new();
    let mut pending = vec![items];
    while let Some(mut part) = pending.pop() {
        if part.is_empty() {
            continue;
        }
        let bytes = encode(&part);
        if max == 0 || bytes.len() as u64 <= max {
            out.push((bytes, part));
        } else if part.len() == 1 {
            too_large(bytes.len());
        } else {
            let second = part.split_off(part.len() / 2);
            // Popped last-in first-out: push the second half first so the
            // requests keep the items' order.
            pending.push(second);
            pending.push(part);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(items: &[Vec<u8>]) -> Vec<u8> {
        items.concat()
    }

    #[test]
    fn halves_until_each_request_fits_and_keeps_order() {
        let items: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 100]).collect();
        let mut dropped = Vec::new();
        let out = split_to_fit(items, 350, &enc, &mut |n| dropped.push(n));
        assert!(dropped.is_empty());
        assert!(out.iter().all(|(b, _)| b.len() <= 350));
        assert_eq!(out.iter().map(|(_, p)| p.len()).sum::<usize>(), 10);
        let all: Vec<u8> = out.into_iter().flat_map(|(b, _)| b).collect();
        let want: Vec<u8> = (0..10u8).flat_map(|i| vec![i; 100]).collect();
        assert_eq!(all, want);
    }

    #[test]
    fn one_item_over_the_limit_is_reported_the_rest_sent() {
        let items = vec![vec![1u8; 10], vec![2u8; 500], vec![3u8; 10]];
        let mut dropped = Vec::new();
        let out = split_to_fit(items, 100, &enc, &mut |n| dropped.push(n));
        assert_eq!(dropped, vec![500]);
        let sent: Vec<u8> = out
            .iter()
            .flat_map(|(_, p)| p.iter().map(|i| i[0]))
            .collect();
        assert_eq!(sent, vec![1, 3]);
    }

    #[test]
    fn zero_means_no_limit() {
        let items = vec![vec![0u8; 1000], vec![0u8; 1000]];
        let out = split_to_fit(items, 0, &enc, &mut |_| panic!("nothing is too large"));
        assert_eq!(out.len(), 1);
    }
}
