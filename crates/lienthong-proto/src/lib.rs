//! lienthong's contracts, generated from `proto/lienthong/v1/*.proto`.
//!
//! Nothing but generated code and the descriptor set lives here: the `.proto` files are the
//! source of truth, and partners decode our Kafka records from them with standard tools.

/// Package `lienthong.v1`.
pub mod v1 {
    #![allow(missing_debug_implementations, clippy::all, rust_2018_idioms)]
    tonic::include_proto!("lienthong.v1");
}

/// The encoded `FileDescriptorSet` of every lienthong proto file (with imports), for gRPC server
/// reflection and for `lienthong schema export`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("lienthong_descriptor");

/// Proto file names, relative to the `proto/` root, in dependency order.
pub const PROTO_FILES: &[&str] = &[
    "lienthong/v1/common.proto",
    "lienthong/v1/change_event.proto",
    "lienthong/v1/dead_letter.proto",
    "lienthong/v1/masterdata.proto",
    "lienthong/v1/population.proto",
    "lienthong/v1/resolution.proto",
    "lienthong/v1/delivery.proto",
    "lienthong/v1/lookup.proto",
    "lienthong/v1/resolve.proto",
    "lienthong/v1/codelists.proto",
];

/// The value of the `lienthong-content-type` header for a message of this package.
pub fn content_type(message_name: &str) -> String {
    format!("application/x-protobuf; messageType=lienthong.v1.{message_name}")
}
