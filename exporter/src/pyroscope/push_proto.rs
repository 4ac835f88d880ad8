//! The Pyroscope push API's messages (`push.v1.PushRequest` and the types it
//! carries), written from their field numbers.

#![allow(missing_docs)]

#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<RawProfileSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RawProfileSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RawSample>,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, prost::Message)]
pub struct LabelPair {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RawSample {
    #[prost(bytes = "bytes", tag = "1")]
    pub raw_profile: bytes::Bytes,
    #[prost(string, tag = "2")]
    pub id: String,
}

/// The (empty) response.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushResponse {}

/// The path of the unary Connect call, appended to the endpoint URL.
pub const PUSH_PATH: &str = "push.v1.PusherService/Push";
/// Connect's unary content type for protobuf bodies.
pub const CONTENT_TYPE: &str = "application/proto";

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn wire_layout_matches_the_field_numbers() {
        let req = PushRequest {
            series: vec![RawProfileSeries {
                labels: vec![LabelPair {
                    name: "a".into(),
                    value: "b".into(),
                }],
                samples: vec![RawSample {
                    raw_profile: bytes::Bytes::from_static(b"\x01\x02"),
                    id: "x".into(),
                }],
            }],
        };
        let bytes = req.encode_to_vec();
        // series(1,LEN=17){ labels(1,LEN=6){name(1)"a" value(2)"b"} samples(2,LEN=7){raw(1)0102 ID(2)"x"} }
        let want = [
            0x0a, 17, 0x0a, 6, 0x0a, 1, b'a', 0x12, 1, b'b', 0x12, 7, 0x0a, 2, 1, 2, 0x12, 1, b'x',
        ];
        assert_eq!(bytes, want);
        assert_eq!(PushRequest::decode(bytes.as_slice()).unwrap(), req);
    }
}
