//! `lienthong schema descriptor-set`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

pub fn descriptor_set(out: &Path) -> anyhow::Result<ExitCode> {
    std::fs::write(out, lienthong_proto::FILE_DESCRIPTOR_SET)
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} ({} bytes): decode a record with\n  protoc --descriptor_set_in={} --decode=lienthong.v1.ChangeEvent < record.bin",
        out.display(),
        lienthong_proto::FILE_DESCRIPTOR_SET.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
