//! Regenerates the code-list directory from the reference tables.
//!
//! ```text
//! cargo run -p lienthong-translate --example generate_codelists -- <refdata dir> <codelists dir>
//! cargo run -p lienthong-translate --example generate_codelists -- --check <refdata dir> <codelists dir>
//! ```
//!
//! With `--check` nothing is written: the program exits with status 1 if any file in the
//! code-list directory differs from what the reference tables give.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.first().is_some_and(|a| a == "--check");
    if check {
        args.remove(0);
    }
    let [refdata, out] = args.as_slice() else {
        eprintln!("usage: generate_codelists [--check] <refdata dir> <codelists dir>");
        return ExitCode::from(2);
    };
    let out = PathBuf::from(out);
    let files = match lienthong_translate::codelist::generate(refdata.as_ref()) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stale = 0;
    for (name, content) in &files {
        let path = out.join(name);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                eprintln!("stale: {}", path.display());
                stale += 1;
            }
        } else if let Err(e) = std::fs::write(&path, content) {
            eprintln!("error: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if stale > 0 {
        eprintln!("{stale} file(s) differ from the reference tables: regenerate them");
        return ExitCode::FAILURE;
    }
    if !check {
        println!("wrote {} files to {}", files.len(), out.display());
    }
    ExitCode::SUCCESS
}
