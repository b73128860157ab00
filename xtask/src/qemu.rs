//! `cargo xtask qemu`: build the test kernel and run it on QEMU's MMU.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const QEMU: &str = "qemu-system-x86_64";
const DEFAULT_TIMEOUT_SECS: u32 = 60;
/// isa-debug-exit status for the kernel's pass value 0x10: (0x10 << 1) | 1.
const PASS_STATUS: i32 = 33;
const KERNEL_TARGET: &str = "x86_64-unknown-linux-gnu";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Four,
    Five,
}

impl Mode {
    fn levels(self) -> u32 {
        match self {
            Mode::Four => 4,
            Mode::Five => 5,
        }
    }
    fn label(self) -> String {
        format!("{}-level", self.levels())
    }
    fn cpu(self) -> &'static str {
        match self {
            // 1 GiB pages too, so the test kernel maps with every leaf size.
            Mode::Four => "qemu64,+pdpe1gb",
            Mode::Five => "qemu64,+la57,+pdpe1gb",
        }
    }
    /// Separate target directories so both images stay built.
    fn target_subdir(self) -> &'static str {
        match self {
            Mode::Four => "la48",
            Mode::Five => "la57",
        }
    }
}

pub struct Options {
    modes: Vec<Mode>,
    verbose: bool,
    /// Kernel command line (`-append`), e.g. to select scenarios.
    append: Option<String>,
    timeout_secs: u32,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut modes = vec![Mode::Four, Mode::Five];
        let mut verbose = false;
        let mut append = None;
        let mut timeout_secs = DEFAULT_TIMEOUT_SECS;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mode_value = if a == "--mode" {
                Some(it.next().ok_or("--mode needs a value")?.as_str())
            } else {
                a.strip_prefix("--mode=")
            };
            if let Some(v) = mode_value {
                modes = match v {
                    "4" => vec![Mode::Four],
                    "5" => vec![Mode::Five],
                    "all" => vec![Mode::Four, Mode::Five],
                    _ => return Err(format!("bad --mode `{v}` (4, 5 or all)")),
                };
            } else if a == "--verbose" || a == "-v" {
                verbose = true;
            } else if a == "--append" {
                append = Some(it.next().ok_or("--append needs a value")?.clone());
            } else if a == "--timeout" {
                let v = it.next().ok_or("--timeout needs a value")?;
                timeout_secs = v
                    .parse()
                    .ok()
                    .filter(|&t| t > 0)
                    .ok_or(format!("bad --timeout `{v}`"))?;
            } else {
                return Err(format!("unknown argument `{a}`"));
            }
        }
        Ok(Options {
            modes,
            verbose,
            append,
            timeout_secs,
        })
    }
}

/// What one QEMU run produced.
enum Outcome {
    /// The run happened; `failures` lists what went wrong (empty = pass).
    Ran {
        checks_ok: usize,
        checks_failed: Vec<String>,
        failures: Vec<String>,
    },
    /// QEMU refused the CPU model (5-level): the exact QEMU message.
    Refused(String),
}

pub fn run(opts: &Options) -> ExitCode {
    if let Err(msg) = check_tools() {
        eprintln!("xtask qemu: {msg}");
        return ExitCode::FAILURE;
    }
    let kernel_dir = kernel_dir();
    let mut all_ok = true;
    let mut summary = Vec::new();
    for &mode in &opts.modes {
        let label = mode.label();
        let elf = match build(&kernel_dir, mode) {
            Ok(elf) => elf,
            Err(e) => {
                eprintln!("[{label}] build failed: {e}");
                summary.push(format!("{label}: FAIL (build)"));
                all_ok = false;
                continue;
            }
        };
        println!("[{label}] kernel {}", elf.display());
        match run_qemu(&elf, mode, opts) {
            Ok(Outcome::Ran {
                checks_ok,
                checks_failed,
                failures,
            }) => {
                let total = checks_ok + checks_failed.len();
                if failures.is_empty() {
                    summary.push(format!("{label}: pass ({checks_ok}/{total} checks ok)"));
                } else {
                    all_ok = false;
                    summary.push(format!(
                        "{label}: FAIL ({checks_ok}/{total} checks ok; {})",
                        failures.join("; ")
                    ));
                }
            }
            Ok(Outcome::Refused(msg)) => {
                println!("[{label}] QEMU refused `-cpu {}`:", mode.cpu());
                for l in msg.lines() {
                    println!("[{label}]   {l}");
                }
                println!("[{label}] 5-level paging is unavailable here: ran 4-level only");
                summary.push(format!("{label}: skipped (QEMU refused LA57)"));
                if opts.modes.len() == 1 {
                    all_ok = false;
                }
            }
            Err(e) => {
                eprintln!("[{label}] {e}");
                summary.push(format!("{label}: FAIL ({e})"));
                all_ok = false;
            }
        }
    }
    println!("qemu summary:");
    for s in &summary {
        println!("  {s}");
    }
    if all_ok {
        println!("qemu: PASS");
        ExitCode::SUCCESS
    } else {
        println!("qemu: FAIL");
        ExitCode::FAILURE
    }
}

fn kernel_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/pgtable-qemu");
    dir.canonicalize().unwrap_or(dir)
}

fn check_tools() -> Result<(), String> {
    match Command::new(QEMU).arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Err(format!("`{QEMU} --version` failed: {}", o.status)),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(format!(
                "{QEMU} is not installed; install it with:\n  \
                 apt-get update && apt-get install -y qemu-system-x86"
            ))
        }
        Err(e) => return Err(format!("cannot run {QEMU}: {e}")),
    }
    match Command::new("timeout").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "`timeout` (coreutils) is needed to bound QEMU: {e}"
        )),
    }
}

/// `cargo build --release` inside the kernel crate (its own workspace,
/// `.cargo/config.toml` and target directory); returns the ELF path.
fn build(kernel_dir: &Path, mode: Mode) -> Result<PathBuf, String> {
    let target_dir = kernel_dir.join("target").join(mode.target_subdir());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(kernel_dir)
        .args(["build", "--release", "--quiet", "--target-dir"])
        .arg(&target_dir);
    if mode == Mode::Five {
        cmd.args(["--features", "la57"]);
    }
    // The kernel's flags come from its own .cargo/config.toml; keep the
    // environment of the outer `cargo run` from overriding them.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build exited with {status}"));
    }
    let elf = target_dir
        .join(KERNEL_TARGET)
        .join("release")
        .join("pgtable-qemu");
    if elf.is_file() {
        Ok(elf)
    } else {
        Err(format!("{} was not produced", elf.display()))
    }
}

fn qemu_args(elf: &Path, mode: Mode, append: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        "-kernel",
        &elf.display().to_string(),
        "-cpu",
        mode.cpu(),
        "-m",
        "512M",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=0x04",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(a) = append {
        args.extend(["-append".to_string(), a.to_string()]);
    }
    args
}

fn run_qemu(elf: &Path, mode: Mode, opts: &Options) -> Result<Outcome, String> {
    let label = mode.label();
    let verbose = opts.verbose;
    let secs = opts.timeout_secs;
    let args = qemu_args(elf, mode, opts.append.as_deref());
    if verbose {
        println!("[{label}] timeout {secs} {QEMU} {}", args.join(" "));
    }
    let out = Command::new("timeout")
        .args(["-k", "5", &secs.to_string(), QEMU])
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {QEMU}: {e}"))?;
    let serial = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let status = out.status.code();

    // LA57 not offered: QEMU either stops with an error or warns and boots
    // a CPU without it. Either way, report QEMU's exact words and skip.
    if mode == Mode::Five && stderr.to_ascii_lowercase().contains("la57") {
        return Ok(Outcome::Refused(stderr));
    }

    if verbose {
        for l in serial.lines() {
            println!("[{label}] | {l}");
        }
    }
    if !stderr.is_empty() {
        for l in stderr.lines() {
            println!("[{label}] qemu stderr: {l}");
        }
    }

    let mut checks_ok = 0;
    let mut checks_failed = Vec::new();
    // `CHECK <name> ok <detail>`: scenario outcomes worth showing.
    let mut details = Vec::new();
    let mut result = None;
    let mut seen_mode = None;
    for line in serial.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("CHECK ") {
            let (name, verdict) = rest.split_once(' ').unwrap_or((rest, ""));
            if verdict == "ok" {
                checks_ok += 1;
            } else if let Some(detail) = verdict.strip_prefix("ok ") {
                checks_ok += 1;
                details.push(format!("{name} ok {detail}"));
            } else {
                checks_failed.push(format!("{name}: {verdict}"));
            }
        } else if let Some(r) = line.strip_prefix("RESULT ") {
            result = Some(r.trim().to_string());
        } else if let Some(m) = line.strip_prefix("MODE ") {
            seen_mode = Some(m.trim().to_string());
        }
    }

    let mut failures = Vec::new();
    match status {
        Some(124) | Some(137) => failures.push(format!("timeout after {secs} s")),
        Some(PASS_STATUS) => {}
        Some(s) => failures.push(format!("exit status {s}, want {PASS_STATUS}")),
        None => failures.push("QEMU killed by a signal".to_string()),
    }
    match result.as_deref() {
        Some("pass") => {}
        Some(r) => failures.push(format!("RESULT {r}")),
        None => failures.push("no RESULT line".to_string()),
    }
    if seen_mode.as_deref() != Some(label.as_str()) {
        failures.push(format!(
            "kernel ran in mode {:?}, want {label}",
            seen_mode.as_deref().unwrap_or("?")
        ));
    }
    if checks_ok + checks_failed.len() == 0 {
        failures.push("no CHECK lines".to_string());
    }
    if !checks_failed.is_empty() {
        failures.push(format!("{} CHECK FAIL", checks_failed.len()));
    }

    println!(
        "[{label}] {} checks: {checks_ok} ok, {} FAIL; RESULT {}; exit status {}",
        checks_ok + checks_failed.len(),
        checks_failed.len(),
        result.as_deref().unwrap_or("missing"),
        status.map_or("signal".to_string(), |s| s.to_string())
    );
    for d in &details {
        println!("[{label}]   {d}");
    }
    for f in &checks_failed {
        println!("[{label}]   FAIL {f}");
    }
    if !failures.is_empty() && !verbose {
        println!("[{label}] serial log:");
        for l in serial.lines() {
            println!("[{label}] | {l}");
        }
    }
    Ok(Outcome::Ran {
        checks_ok,
        checks_failed,
        failures,
    })
}
