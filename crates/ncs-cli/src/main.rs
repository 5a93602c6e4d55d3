//! The `ncs` command: nerve-conduction studies from an EMG amplifier.

mod analyze;
mod report;
mod simulate;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Nerve-conduction studies from an EMG amplifier: responses measured and conduction blocks
/// graded as they happen. Output is decision support for a clinician, not a diagnosis.
#[derive(Debug, Parser)]
#[command(name = "ncs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse a recorded NWB session offline.
    Analyze(analyze::AnalyzeArgs),
    /// Write a simulated study as an NWB session.
    Simulate(simulate::SimulateArgs),
    /// List the built-in simulated study scenarios.
    Scenarios,
    /// Run a simulated MMN study through filtering, measurement and block grading.
    Demo,
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Analyze(args) => {
            let report = analyze::analyze(&args)?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            match args.format {
                analyze::Format::Json => {
                    serde_json::to_writer_pretty(&mut out, &report)?;
                    writeln!(out)?;
                }
                analyze::Format::Table => report::print_tables(&report, &mut out)?,
            }
        }
        Command::Simulate(args) => simulate::simulate(&args)?,
        Command::Scenarios => {
            for name in ncs_sim::list_scenarios() {
                let s = ncs_sim::scenario(name).map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("{name:<24} {}", s.description.lines().next().unwrap_or(""));
            }
        }
        Command::Demo => demo()?,
    }
    Ok(())
}

/// The simulated MMN study, written to a session in a temporary folder and analysed.
fn demo() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("ncs-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("mmn.nwb");
    eprintln!("simulating the `mmn` study into {}", path.display());
    simulate::simulate(&simulate::SimulateArgs {
        scenario: "mmn".into(),
        output: path.clone(),
        seed: None,
        sample_rate: None,
    })?;
    let args = analyze::AnalyzeArgs {
        session: path,
        series: None,
        criteria: "efns-pns-2010-mmn".into(),
        format: analyze::Format::Table,
        trigger_channel: None,
        trigger_level: None,
        artefact_channel: None,
        channel: 0,
        protocol: None,
        findings: None,
        polarity: analyze::PolarityArg::NegativeFirst,
        pre_ms: 20.0,
        post_ms: 100.0,
    };
    let report = analyze::analyze(&args)?;
    report::print_tables(&report, &mut std::io::stdout().lock())?;
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
