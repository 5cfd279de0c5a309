//! Prints the JSON Schema of mapping files.
//!
//! ```text
//! cargo run -p lienthong-translate --example mapping_schema > schemas/mapping.schema.json
//! ```

fn main() {
    let schema = lienthong_translate::mapping::json_schema();
    match serde_json::to_string_pretty(&schema) {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
