//! Any bytes as the payload of a record read back from the persistent
//! sending queue (`storage_codec::read_batch`, what the queue does with each
//! record at start): refused whole with a reason, or read back with every
//! kept profile within the caps given and its labels valid and every left-out one named
//! with its reason; what is kept encodes to a record that reads back the
//! same, with nothing left out.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profcol_exporter::storage_codec::{encode_batch, read_batch};
use profcol_pdata::pprof::DecodeLimits;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits::default();
    let read = match read_batch(data, &limits) {
        Ok(read) => read,
        Err(reason) => {
            assert!(!reason.is_empty());
            return;
        }
    };
    for r in &read.batch.records {
        for (name, _) in r.labels.iter() {
            assert!(!name.is_empty());
        }
    }
    for refused in &read.refused {
        assert!(!refused.item.is_empty() && !refused.detail.is_empty());
    }
    let again = read_batch(&encode_batch(&read.batch), &limits);
    let again = again.unwrap_or_else(|e| panic!("a batch read back encodes to one that reads back: {e}"));
    assert!(again.refused.is_empty(), "{:?}", again.refused);
    assert_eq!(again.batch.len(), read.batch.len());
});
