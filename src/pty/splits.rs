//! Test support: every way to split one byte stream into the chunks a `read` could return.
//!
//! The filters promise the same decisions however the input is cut (interactive.md §3, §4). Short
//! streams are checked against every split; longer ones against every split with up to three
//! cuts, plus the one-byte-per-read split.

/// Streams up to this length are checked against all 2^(n-1) splits.
const EXHAUSTIVE_UP_TO: usize = 14;

/// Calls `check` with every split of `data` into consecutive, non-empty chunks (see the module
/// doc for which splits of long streams are tried).
pub fn for_each_split(data: &[u8], mut check: impl FnMut(&[&[u8]])) {
    let n = data.len();
    if n < 2 {
        check(&[data]);
        return;
    }
    if n <= EXHAUSTIVE_UP_TO {
        for mask in 0u32..(1 << (n - 1)) {
            let cuts: Vec<usize> = (1..n).filter(|i| mask & (1 << (i - 1)) != 0).collect();
            check(&chunks_at(data, &cuts));
        }
        return;
    }
    check(&[data]);
    for a in 1..n {
        check(&chunks_at(data, &[a]));
        for b in a + 1..n {
            check(&chunks_at(data, &[a, b]));
            for c in b + 1..n {
                check(&chunks_at(data, &[a, b, c]));
            }
        }
    }
    let singles: Vec<&[u8]> = data.chunks(1).collect();
    check(&singles);
}

fn chunks_at<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        chunks.push(&data[start..cut]);
        start = cut;
    }
    chunks.push(&data[start..]);
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_streams_get_every_split() {
        let mut seen = Vec::new();
        for_each_split(b"abc", |chunks| seen.push(chunks.concat()));
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|s| s == b"abc"));
    }

    #[test]
    fn long_streams_get_up_to_three_cuts_and_single_bytes() {
        let data = [b'x'; 20];
        let mut count = 0;
        for_each_split(&data, |chunks| {
            assert_eq!(chunks.concat(), data);
            count += 1;
        });
        // 1 whole + C(19,1) + C(19,2) + C(19,3) + the one-byte split.
        assert_eq!(count, 1 + 19 + 171 + 969 + 1);
    }
}
