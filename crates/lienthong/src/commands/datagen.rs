//! `lienthong datagen`: a synthetic population register and a civil-servant list drawn from it,
//! with injected errors and the truth, for the resolver's tests, benchmarks and the demo.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use lienthong_datagen::output::{CIVIL_SERVANTS_FILE, REGISTER_FILE, SUMMARY_FILE, TRUTH_FILE};
use lienthong_datagen::{DatagenOptions, Date, ErrorKind, Rates, RegisterOptions, Summary};

#[derive(Debug, clap::Args)]
pub struct DatagenArgs {
    /// Directory to write register.csv, civil_servants.csv, truth.csv and datagen.json into
    /// (created if missing; existing files are replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// People in the register.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub people: u64,
    /// Rows in the civil-servant list (people absent from the register and duplicates
    /// included).
    #[arg(long = "civil-servants", value_name = "N", default_value_t = 10_000)]
    pub civil_servants: usize,
    /// The same seed gives the same files.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Error rates (TOML: `typo = 0.05`, one line per error kind); kinds it leaves out keep
    /// their defaults.
    #[arg(long, value_name = "FILE")]
    pub rates: Option<PathBuf>,
    /// The day the civil-servant list describes: its people are 18–65 and alive on it.
    #[arg(
        long = "reference-date",
        value_name = "YYYY-MM-DD",
        default_value = "2026-01-01"
    )]
    pub reference_date: Date,
}

pub fn run(args: &DatagenArgs) -> anyhow::Result<ExitCode> {
    let rates = match &args.rates {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Rates::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => Rates::default(),
    };
    let options = DatagenOptions {
        people: args.people,
        civil_servants: args.civil_servants,
        seed: args.seed,
        reference_date: args.reference_date,
        rates,
        register: RegisterOptions::default(),
    };
    let started = Instant::now();
    let summary = lienthong_datagen::generate(&options, &args.out)?;
    print!("{}", report(&summary, &args.out));
    println!("done in {:.1?}", started.elapsed());
    Ok(ExitCode::SUCCESS)
}

/// What was written, file by file, and the list's rows per error kind.
fn report(summary: &Summary, out: &std::path::Path) -> String {
    let file = |name: &str| out.join(name).display().to_string();
    let register = &summary.register;
    let list = &summary.civil_servants;
    let mut text = format!(
        "{}: {} people ({} with a superseded number, {} deceased, {} aged 18–65 on {})\n",
        file(REGISTER_FILE),
        register.people,
        register.with_superseded_id,
        register.deceased,
        register.eligible,
        summary.reference_date,
    );
    text.push_str(&format!(
        "{}: {} rows ({} of register people, {} not in the register, {} duplicates, {} without errors)\n",
        file(CIVIL_SERVANTS_FILE),
        list.rows,
        list.in_register,
        list.not_in_register,
        list.duplicates,
        list.clean,
    ));
    text.push_str(&format!(
        "{}: the person and errors of every row\n{}: seed {}, rates and counts\n",
        file(TRUTH_FILE),
        file(SUMMARY_FILE),
        summary.seed,
    ));
    text.push_str("rows per error kind (rate):\n");
    for kind in ErrorKind::ALL {
        let rows = summary
            .errors
            .get(kind.as_str())
            .copied()
            .unwrap_or_default();
        let rate = summary.rates.rate(kind);
        if rows > 0 || rate > 0.0 {
            text.push_str(&format!("  {kind:<24}{rows:>9}  ({rate})\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: DatagenArgs,
    }

    #[test]
    fn defaults_and_a_rates_file() {
        let cli = Cli::try_parse_from(["datagen", "--out", "x"]).unwrap();
        assert_eq!(cli.args.people, 100_000);
        assert_eq!(cli.args.civil_servants, 10_000);
        assert_eq!(cli.args.seed, 2026);
        assert_eq!(cli.args.reference_date.to_string(), "2026-01-01");
        assert!(
            Cli::try_parse_from(["datagen"]).is_err(),
            "--out is required"
        );
        assert!(
            Cli::try_parse_from(["datagen", "--out", "x", "--reference-date", "1/1/2026"]).is_err()
        );

        let dir = std::env::temp_dir().join(format!("lienthong-datagen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rates = dir.join("rates.toml");
        std::fs::write(&rates, "typo = 0.5\nmissing_sex = 0.2\n").unwrap();
        let out = dir.join("out");
        let cli = Cli::try_parse_from([
            "datagen",
            "--out",
            out.to_str().unwrap(),
            "--people",
            "3000",
            "--civil-servants",
            "200",
            "--rates",
            rates.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(run(&cli.args).unwrap(), ExitCode::SUCCESS);
        let summary: Summary =
            serde_json::from_slice(&std::fs::read(out.join(SUMMARY_FILE)).unwrap()).unwrap();
        assert_eq!(summary.rates.typo, 0.5);
        assert_eq!(summary.rates.missing_sex, 0.2);
        assert_eq!(summary.register.people, 3000);
        assert!(summary.errors["missing_sex"] > 0);
        let text = report(&summary, &out);
        assert!(text.contains("3000 people"), "{text}");
        assert!(text.contains("missing_sex"), "{text}");

        std::fs::write(&rates, "typos = 0.5\n").unwrap();
        assert!(run(&cli.args).is_err(), "unknown kinds are refused");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
