//! The `ncs` command: nerve-conduction studies from an EMG amplifier.

mod analyze;
mod exam;
mod live;
mod report;
mod simulate;
mod sources;
mod tui;

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
    /// Acquire a study live: responses and segment grades as they happen.
    Acquire(live::AcquireArgs),
    /// A simulated MMN study acquired in real time through the whole pipeline, recorded to a
    /// session, with the verdict table at the end.
    Demo(live::DemoArgs),
    /// Stream a recorded session through the live pipeline.
    Replay(live::ReplayArgs),
    /// List serial ports (with USB ids) that an amplifier may be on, and audio inputs.
    Devices,
    /// List the study protocols that ship with ncs, or print one (to copy and edit).
    Protocols {
        /// A protocol's name: print its TOML.
        name: Option<String>,
    },
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
        Command::Acquire(args) => live::acquire(&args)?,
        Command::Demo(args) => live::demo(&args)?,
        Command::Replay(args) => live::replay(&args)?,
        Command::Devices => devices()?,
        Command::Protocols { name } => protocols(name.as_deref())?,
    }
    Ok(())
}

/// `ncs protocols [NAME]`.
fn protocols(name: Option<&str>) -> anyhow::Result<()> {
    use ncs_block::protocols::SHIPPED;
    let normals = ncs_block::NormalValues::default_adult();
    if let Some(name) = name {
        let s = SHIPPED.iter().find(|s| s.key == name).ok_or_else(|| {
            let keys: Vec<&str> = SHIPPED.iter().map(|s| s.key).collect();
            anyhow::anyhow!(
                "no shipped protocol {name:?}; there are: {}",
                keys.join(", ")
            )
        })?;
        print!("{}", s.text);
        return Ok(());
    }
    println!("shipped protocols (`ncs acquire --protocol NAME`, `ncs protocols NAME` prints one):");
    for s in SHIPPED {
        let study = ncs_block::Study::from_toml_str(s.text, &normals)?;
        let steps = ncs_exam::steps(&study);
        let nerves: Vec<String> = study
            .nerves
            .iter()
            .map(|n| format!("{} {} {}", n.side, n.name, n.modality))
            .collect();
        println!(
            "  {:<10} {:<12} {:>2} steps: {}",
            s.key,
            study.name,
            steps.len(),
            nerves.join(", ")
        );
    }
    Ok(())
}

/// Serial ports an amplifier may be on.
fn devices() -> anyhow::Result<()> {
    let ports = ncs_serial::list_ports()?;
    if ports.is_empty() {
        println!("no serial ports found");
    }
    for p in ports {
        println!("{p}");
    }
    match ncs_audio::list_inputs() {
        Ok(inputs) if inputs.is_empty() => println!("audio inputs: none found"),
        Ok(inputs) => {
            println!("audio inputs (--source audio:NAME):");
            for i in inputs {
                println!("  {i}");
            }
        }
        Err(e) => println!("audio inputs: none ({e})"),
    }
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
