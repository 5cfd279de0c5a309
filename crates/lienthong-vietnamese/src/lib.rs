//! Vietnamese domain rules shared by the translator (canonical mapping, quality checks) and the
//! population-ID resolver (name matching). Pure functions over strings: no I/O, no async.
//!
//! | module | job |
//! |---|---|
//! | [`text`] | Unicode normalisation and cleaning, tone-mark placement, comparison keys, name casing |
//! | [`legacy`] | detection and decoding of TCVN3 (ABC) and VNI-Windows text from old databases |
//! | [`names`] | family / middle / given split; regional spelling variants (Hoàng/Huỳnh, Vũ/Võ) |
//! | [`pin`] | the 12-digit personal ID number: structure, province and century digit, consistency |
//!
//! A typical path for a name from a legacy source:
//!
//! ```
//! use lienthong_vietnamese::{legacy, names::PersonName, text};
//!
//! let raw = "NGUYÔN  V¡N §øC"; // TCVN3 bytes in a Latin-1 column, typed in capitals
//! let encoding = legacy::detect(raw);
//! assert_eq!(encoding, legacy::Encoding::Tcvn3);
//! let unicode = legacy::to_unicode(raw, encoding)?;
//! let name = PersonName::parse(&text::title_case_name(&unicode))?;
//! assert_eq!(name.full(), "Nguyễn Văn Đức");
//! assert_eq!(text::fold(&name.full()), "nguyen van duc");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod legacy;
pub mod names;
pub mod pin;
pub mod text;

#[cfg(test)]
mod test_support;
