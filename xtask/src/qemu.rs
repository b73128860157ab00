//! `cargo xtask qemu`: build the test kernels and run them on QEMU's MMUs.
//!
//! Targets (paging modes on a real MMU):
//! - x86-64 4-level and 5-level: `crates/pgtable-qemu` on
//!   `qemu-system-x86_64` (PVH boot, isa-debug-exit); and 4-level with
//!   `-smp 4` (cargo feature `smp`): the SMP checks on real concurrent
//!   CPUs after the single-CPU ones;
//! - arm64 48-bit, 39-bit and 52-bit (FEAT_LPA2): `crates/pgtable-qemu-arm64`
//!   on `qemu-system-aarch64 -M virt -cpu max` (EL1, semihosting exit);
//!   52-bit is skipped where the CPU lacks FEAT_LPA2 (QEMU before 7.0);
//! - riscv64 Sv39, Sv48 and Sv57: `crates/pgtable-qemu-riscv64` on
//!   `qemu-system-riscv64 -M virt -cpu rv64,svpbmt=on` (S-mode under
//!   OpenSBI's fw_dynamic, SBI system-reset exit);
//! - arm32 short descriptors, with and without PXN:
//!   `crates/pgtable-qemu-arm32` on `qemu-system-arm -M virt -cpu
//!   cortex-a15` (PL1, semihosting exit).
//! - x86-32 2-level, PAE (shared and per-process kernel PMD), each also
//!   with HIGHPTE: `crates/pgtable-qemu-i386` on `qemu-system-i386 -cpu
//!   max -m 1G` (multiboot, isa-debug-exit).
//!
//! Every kernel prints `MODE`, `CHECK`, `SUMMARY` and `RESULT` lines and
//! exits with its architecture's pass status (33 for x86-64, arm64 and
//! arm32, 0 for riscv64) when it passes. Every kernel runs the simulator's
//! scenarios under each kernel era (`CHECK <scenario>/<era>/<old|new> ok
//! verdict=<v> faults=<n> predicted=<n>`); the verdicts are checked against
//! the simulator's table (`crates/pgtable-sim/VERDICTS.md`), and the faults
//! the real MMU raised against those the software MMU predicted. One
//! summary table closes the run: per mode, pass/fail, checks, era verdicts
//! equal to the simulator's, scenario faults real/predicted, addresses
//! compared and differences; any failure makes the exit status non-zero.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

mod summary;

use summary::{print_table, verdict_failures, Row};

const DEFAULT_TIMEOUT_SECS: u32 = 60;
/// OpenSBI images tried for riscv64's `-bios`, in order: Debian's
/// `opensbi` package, then QEMU's own copy (`-bios default`, from
/// `qemu-system-data`).
const OPENSBI_FW_DYNAMIC: &str = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";

/// Architecture of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Arm64,
    Riscv64,
    Arm32,
    X86_32,
}

impl Arch {
    fn parse(v: &str) -> Option<Arch> {
        match v {
            "x86_64" | "x86-64" | "x86" => Some(Arch::X86_64),
            "arm64" | "aarch64" => Some(Arch::Arm64),
            "riscv64" | "riscv" => Some(Arch::Riscv64),
            "arm32" | "arm" => Some(Arch::Arm32),
            "x86_32" | "x86-32" | "i386" | "i686" => Some(Arch::X86_32),
            _ => None,
        }
    }
    fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Arm64 => "qemu-system-aarch64",
            Arch::Riscv64 => "qemu-system-riscv64",
            Arch::Arm32 => "qemu-system-arm",
            Arch::X86_32 => "qemu-system-i386",
        }
    }
    fn apt_package(self) -> &'static str {
        match self {
            Arch::X86_64 | Arch::X86_32 => "qemu-system-x86",
            Arch::Arm64 => "qemu-system-arm",
            Arch::Riscv64 => "qemu-system-misc",
            Arch::Arm32 => "qemu-system-arm",
        }
    }
    fn kernel_crate(self) -> &'static str {
        match self {
            Arch::X86_64 => "pgtable-qemu",
            Arch::Arm64 => "pgtable-qemu-arm64",
            Arch::Riscv64 => "pgtable-qemu-riscv64",
            Arch::Arm32 => "pgtable-qemu-arm32",
            Arch::X86_32 => "pgtable-qemu-i386",
        }
    }
    fn kernel_target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-none",
            Arch::Arm64 => "aarch64-unknown-none",
            Arch::Riscv64 => "riscv64gc-unknown-none-elf",
            Arch::Arm32 => "armv7a-none-eabi",
            // Stable has no 32-bit x86 bare-metal target with a prebuilt
            // core; see the crate's README.
            Arch::X86_32 => "i686-unknown-linux-gnu",
        }
    }
    /// The exit status of a passing kernel: x86-64's isa-debug-exit value
    /// 0x10 gives (0x10 << 1) | 1; the arm64 and arm32 kernels exit with 33
    /// through semihosting (arm32 with SYS_EXIT_EXTENDED); the riscv64
    /// kernel shuts down through SBI system reset with no reason, which
    /// OpenSBI turns into QEMU's `sifive_test` FINISHER_PASS (status 0; a
    /// failure reason gives FINISHER_FAIL, status 1).
    fn pass_status(self) -> i32 {
        match self {
            Arch::X86_64 | Arch::Arm64 | Arch::Arm32 | Arch::X86_32 => 33,
            Arch::Riscv64 => 0,
        }
    }
}

/// One paging mode on one architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// x86-64 4-level paging.
    Four,
    /// x86-64 5-level paging (LA57).
    Five,
    /// x86-64 4-level paging on 4 CPUs (`-smp 4`).
    Smp4,
    /// arm64, 48-bit VAs (4 levels).
    Va48,
    /// arm64, 39-bit VAs (3 levels).
    Va39,
    /// arm64, 52-bit VAs with FEAT_LPA2 (5 levels).
    Va52,
    /// riscv64 Sv39 (3 levels).
    Sv39,
    /// riscv64 Sv48 (4 levels).
    Sv48,
    /// riscv64 Sv57 (5 levels).
    Sv57,
    /// arm32 short descriptors without PXN (`Arm32::SHORT`).
    Short,
    /// arm32 short descriptors with PXN in user tables (`Arm32::SHORT_PXN`).
    ShortPxn,
    /// x86-32: 2-level or PAE (kernel PMD shared or per process), with or
    /// without HIGHPTE.
    X86_32(X86_32Image),
}

/// An image of `crates/pgtable-qemu-i386`: its `--mode` name, the
/// library's name of its paging mode (the kernel's `MODE` line) and the
/// crate features that select it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X86_32Image {
    short: &'static str,
    label: &'static str,
    features: Option<&'static str>,
}

const fn x86_32(short: &'static str, label: &'static str, features: Option<&'static str>) -> Mode {
    Mode::X86_32(X86_32Image {
        short,
        label,
        features,
    })
}

const ALL_MODES: [Mode; 17] = [
    Mode::Four,
    Mode::Five,
    Mode::Smp4,
    Mode::Va48,
    Mode::Va39,
    Mode::Va52,
    Mode::Sv39,
    Mode::Sv48,
    Mode::Sv57,
    Mode::Short,
    Mode::ShortPxn,
    x86_32("2-level", "x86_32/2-level", None),
    x86_32("pae", "x86_32/PAE", Some("pae")),
    x86_32(
        "pae-unshared",
        "x86_32/PAE-unshared-pmd",
        Some("pae-unshared"),
    ),
    x86_32("2-level-highpte", "x86_32/2-level+highpte", Some("highpte")),
    x86_32("pae-highpte", "x86_32/PAE+highpte", Some("pae,highpte")),
    x86_32(
        "pae-unshared-highpte",
        "x86_32/PAE-unshared-pmd+highpte",
        Some("pae-unshared,highpte"),
    ),
];

impl Mode {
    fn arch(self) -> Arch {
        match self {
            Mode::Four | Mode::Five | Mode::Smp4 => Arch::X86_64,
            Mode::Va48 | Mode::Va39 | Mode::Va52 => Arch::Arm64,
            Mode::Sv39 | Mode::Sv48 | Mode::Sv57 => Arch::Riscv64,
            Mode::Short | Mode::ShortPxn => Arch::Arm32,
            Mode::X86_32(_) => Arch::X86_32,
        }
    }
    /// What the kernel prints on its `MODE` line.
    fn label(self) -> String {
        match self {
            Mode::Four => "4-level".into(),
            Mode::Five => "5-level".into(),
            Mode::Smp4 => "4-level+smp".into(),
            Mode::Va48 => "arm64/48-bit".into(),
            Mode::Va39 => "arm64/39-bit".into(),
            Mode::Va52 => "arm64/52-bit".into(),
            Mode::Sv39 => "riscv64/sv39".into(),
            Mode::Sv48 => "riscv64/sv48".into(),
            Mode::Sv57 => "riscv64/sv57".into(),
            Mode::Short => "arm32/short".into(),
            Mode::ShortPxn => "arm32/short+pxn".into(),
            Mode::X86_32(m) => m.label.into(),
        }
    }
    /// The name in the summary table and in `[...]` prefixes.
    fn name(self) -> String {
        match self {
            Mode::Four => "x86_64/4-level".into(),
            Mode::Five => "x86_64/5-level".into(),
            Mode::Smp4 => "x86_64/4-level+smp".into(),
            m => m.label(),
        }
    }
    /// `--mode` values.
    fn short(self) -> &'static str {
        match self {
            Mode::Four => "4",
            Mode::Five => "5",
            Mode::Smp4 => "4-smp",
            Mode::Va48 => "48",
            Mode::Va39 => "39",
            Mode::Va52 => "52",
            Mode::Sv39 => "sv39",
            Mode::Sv48 => "sv48",
            Mode::Sv57 => "sv57",
            Mode::Short => "short",
            Mode::ShortPxn => "short+pxn",
            Mode::X86_32(m) => m.short,
        }
    }
    fn cpu(self) -> &'static str {
        match self {
            // 1 GiB pages too, so the test kernel maps with every leaf size.
            Mode::Four | Mode::Smp4 => "qemu64,+pdpe1gb",
            Mode::Five => "qemu64,+la57,+pdpe1gb",
            // Everything QEMU's TCG implements (FEAT_PAN, FEAT_HAFDBS,
            // FEAT_LPA2, ...); the kernel programs what it uses.
            Mode::Va48 | Mode::Va39 | Mode::Va52 => "max",
            // The library maps ioremap/ioremap_wc with Svpbmt's PBMT bits,
            // which QEMU 7.2 treats as reserved (a page fault) unless the
            // extension is turned on.
            Mode::Sv39 | Mode::Sv48 | Mode::Sv57 => "rv64,svpbmt=on",
            // ARMv7-A with the LPAE (so PXN) and the virtualization
            // extensions, which `virt` leaves off; the kernel runs at PL1.
            Mode::Short | Mode::ShortPxn => "cortex-a15",
            // NX (the library sets XD on PAE leaves; the kernel turns
            // IA32_EFER.NXE on), PSE, PAE and PSE-36.
            Mode::X86_32(_) => "max",
        }
    }
    /// Cargo feature of the kernel crate for this mode.
    fn feature(self) -> Option<&'static str> {
        match self {
            Mode::Five => Some("la57"),
            Mode::Smp4 => Some("smp"),
            Mode::Va39 => Some("va39"),
            Mode::Va52 => Some("va52"),
            Mode::Sv48 => Some("sv48"),
            Mode::Sv57 => Some("sv57"),
            Mode::Short => Some("no-pxn"),
            Mode::Four | Mode::Va48 | Mode::Sv39 | Mode::ShortPxn => None,
            Mode::X86_32(m) => m.features,
        }
    }
    /// Separate target directories so every image stays built.
    fn target_subdir(self) -> &'static str {
        match self {
            Mode::Four => "la48",
            Mode::Five => "la57",
            Mode::Smp4 => "smp",
            Mode::Va48 => "va48",
            Mode::Va39 => "va39",
            Mode::Va52 => "va52",
            Mode::Sv39 => "sv39",
            Mode::Sv48 => "sv48",
            Mode::Sv57 => "sv57",
            Mode::Short => "short",
            Mode::ShortPxn => "short-pxn",
            Mode::X86_32(m) => m.short,
        }
    }
    /// The column of `crates/pgtable-sim/VERDICTS.md` whose verdicts the
    /// kernel's `verdict=` lines must match: the mode's own, with HIGHPTE
    /// (where the user PTE pages live), PXN and SMP changing no sync. The
    /// simulator has no 52-bit arm64 mode; its arm64 expectations do not
    /// depend on the VA size (`expect.rs`: split roots, nothing synced, in
    /// every arm64 mode), so 52-bit is held to the 48-bit column.
    fn sim_column(self) -> Option<&'static str> {
        match self {
            Mode::Four | Mode::Smp4 => Some("x86_64/4-level"),
            Mode::Five => Some("x86_64/5-level"),
            Mode::Va48 | Mode::Va52 => Some("arm64/48-bit"),
            Mode::Va39 => Some("arm64/39-bit"),
            Mode::Sv39 => Some("riscv64/sv39"),
            Mode::Sv48 => Some("riscv64/sv48"),
            Mode::Sv57 => Some("riscv64/sv57"),
            Mode::Short | Mode::ShortPxn => Some("arm32/short"),
            Mode::X86_32(m) => Some(m.label.trim_end_matches("+highpte")),
        }
    }
}

pub struct Options {
    modes: Vec<Mode>,
    verbose: bool,
    /// Kernel command line (`-append`, x86-64 only), e.g. to select scenarios.
    append: Option<String>,
    timeout_secs: u32,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut arch: Option<Arch> = None;
        let mut mode: Option<Vec<Mode>> = None;
        let mut verbose = false;
        let mut append = None;
        let mut timeout_secs = DEFAULT_TIMEOUT_SECS;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let value = |flag: &str, it: &mut std::slice::Iter<'_, String>| {
                if a == flag {
                    it.next()
                        .map(|v| Some(v.clone()))
                        .ok_or(format!("{flag} needs a value"))
                } else {
                    Ok(a.strip_prefix(&format!("{flag}=")).map(str::to_string))
                }
            };
            if let Some(v) = value("--mode", &mut it)? {
                mode = Some(match v.as_str() {
                    "all" => ALL_MODES.to_vec(),
                    _ => vec![ALL_MODES
                        .into_iter()
                        .find(|m| m.short() == v)
                        .ok_or(format!(
                            "bad --mode `{v}` (4, 5, 4-smp, 48, 39, 52, sv39, sv48, sv57, \
                             short, short+pxn, 2-level, pae, pae-unshared, 2-level-highpte, \
                             pae-highpte, pae-unshared-highpte or all)"
                        ))?],
                });
            } else if let Some(v) = value("--arch", &mut it)? {
                arch = match v.as_str() {
                    "all" => None,
                    _ => Some(Arch::parse(&v).ok_or(format!(
                        "bad --arch `{v}` (x86_64, arm64, riscv64, arm32, x86_32 or all)"
                    ))?),
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
        let modes: Vec<Mode> = mode
            .unwrap_or_else(|| ALL_MODES.to_vec())
            .into_iter()
            .filter(|m| arch.is_none_or(|a| m.arch() == a))
            .collect();
        if modes.is_empty() {
            return Err("--mode and --arch select no mode together".into());
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
    Ran(Stats),
    /// This QEMU cannot run the mode: the summary row's text and the lines
    /// that say why (QEMU's or the kernel's exact words first).
    Skipped { row: &'static str, why: Vec<String> },
}

/// Counts read from one run's serial log.
#[derive(Default)]
struct Stats {
    checks_ok: usize,
    checks_failed: Vec<String>,
    failures: Vec<String>,
    /// `compared=` of the `crosscheck` line: addresses compared (per root).
    compared: Option<u64>,
    /// `differences=` of the `crosscheck` line.
    differences: Option<u64>,
    /// Faults the real MMU raised in the scenarios' old code and new code
    /// (`faulted=`/`faults=` of `<scenario>[/<era>]/old` and `.../new`
    /// lines), and those the software MMU predicted (`predicted=`).
    old_faults: u64,
    new_faults: u64,
    predicted: u64,
    /// Scenario lines without a `predicted=` count.
    unpredicted: usize,
    scenarios: usize,
    /// Era verdicts equal to the simulator's, of the rows compared, and the
    /// rows of scenarios this kernel does not run.
    verdicts: Option<(usize, usize, usize)>,
}

pub fn run(opts: &Options) -> ExitCode {
    if let Err(msg) = check_timeout() {
        eprintln!("xtask qemu: {msg}");
        return ExitCode::FAILURE;
    }
    let mut all_ok = true;
    let mut rows = Vec::new();
    for &mode in &opts.modes {
        let name = mode.name();
        let started = Instant::now();
        let mut row = Row {
            mode: name.clone(),
            result: "FAIL".into(),
            checks: "-".into(),
            verdicts: "-".into(),
            faults: "-".into(),
            compared: "-".into(),
            differences: "-".into(),
            secs: 0.0,
            why: Vec::new(),
        };
        let outcome = check_qemu(mode.arch()).and_then(|()| {
            let elf =
                build(&kernel_dir(mode.arch()), mode).map_err(|e| format!("build failed: {e}"))?;
            println!("[{name}] kernel {}", elf.display());
            run_qemu(&elf, mode, opts)
        });
        match outcome {
            Ok(Outcome::Ran(st)) => {
                let total = st.checks_ok + st.checks_failed.len();
                row.checks = format!("{}/{total}", st.checks_ok);
                row.compared = st.compared.map_or("-".into(), |n| n.to_string());
                row.differences = st.differences.map_or("-".into(), |n| n.to_string());
                if st.scenarios > 0 {
                    let real = st.old_faults + st.new_faults;
                    row.faults = format!(
                        "{real}/{} (old {}, new {})",
                        st.predicted, st.old_faults, st.new_faults
                    );
                }
                if let Some((ok, of, not_run)) = st.verdicts {
                    row.verdicts = format!("{ok}/{of}");
                    if not_run > 0 {
                        row.verdicts += &format!(" ({not_run} not run)");
                    }
                }
                if st.failures.is_empty() {
                    row.result = "pass".into();
                } else {
                    all_ok = false;
                    row.result = "FAIL".into();
                    row.why = st.failures;
                }
            }
            Ok(Outcome::Skipped { row: text, why }) => {
                for l in why {
                    println!("[{name}] {l}");
                }
                row.result = text.into();
                if opts.modes.len() == 1 {
                    all_ok = false;
                }
            }
            Err(e) => {
                eprintln!("[{name}] {e}");
                row.result = "FAIL".into();
                row.why = vec![e];
                all_ok = false;
            }
        }
        row.secs = started.elapsed().as_secs_f64();
        rows.push(row);
    }
    print_table(&rows);
    if all_ok {
        println!("qemu: PASS");
        ExitCode::SUCCESS
    } else {
        println!("qemu: FAIL");
        ExitCode::FAILURE
    }
}

fn kernel_dir(arch: Arch) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates")
        .join(arch.kernel_crate());
    dir.canonicalize().unwrap_or(dir)
}

fn check_qemu(arch: Arch) -> Result<(), String> {
    let qemu = arch.qemu();
    match Command::new(qemu).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("`{qemu} --version` failed: {}", o.status)),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(format!(
            "{qemu} is not installed; install it with:\n  \
             apt-get update && apt-get install -y {}",
            arch.apt_package()
        )),
        Err(e) => Err(format!("cannot run {qemu}: {e}")),
    }
}

fn check_timeout() -> Result<(), String> {
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
    if let Some(f) = mode.feature() {
        cmd.args(["--features", f]);
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
        return Err(format!(
            "cargo build exited with {status} (is the target installed? \
             `rustup target add {}`)",
            mode.arch().kernel_target()
        ));
    }
    let elf = target_dir
        .join(mode.arch().kernel_target())
        .join("release")
        .join(mode.arch().kernel_crate());
    if elf.is_file() {
        Ok(elf)
    } else {
        Err(format!("{} was not produced", elf.display()))
    }
}

fn qemu_args(elf: &Path, mode: Mode, append: Option<&str>) -> Vec<String> {
    let elf = elf.display().to_string();
    let common = [
        "-m",
        "512M",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-no-reboot",
    ];
    let mut args: Vec<String> = match mode.arch() {
        Arch::X86_64 => ["-kernel", &elf, "-cpu", mode.cpu()]
            .into_iter()
            .chain(common)
            .chain(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .map(str::to_string)
            .collect(),
        // Multiboot entry (`-kernel` of an ELF32 image); 1 GiB so there is
        // high memory above the kernel's 880 MiB of low memory.
        Arch::X86_32 => ["-kernel", &elf, "-cpu", mode.cpu(), "-m", "1G"]
            .into_iter()
            .chain(common.into_iter().skip(2))
            .chain(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .map(str::to_string)
            .collect(),
        // EL1 (arm64) or PL1 SVC mode (arm32) entry at the ELF's (physical)
        // entry point; semihosting for the exit status.
        Arch::Arm64 | Arch::Arm32 => ["-M", "virt", "-cpu", mode.cpu(), "-kernel", &elf]
            .into_iter()
            .chain(common)
            .chain(["-semihosting"])
            .map(str::to_string)
            .collect(),
        // OpenSBI (fw_dynamic) in M-mode enters the ELF at 0x8020_0000 in
        // S-mode; the kernel leaves through SBI system reset.
        Arch::Riscv64 => {
            let bios = if Path::new(OPENSBI_FW_DYNAMIC).is_file() {
                OPENSBI_FW_DYNAMIC
            } else {
                "default"
            };
            [
                "-M",
                "virt",
                "-cpu",
                mode.cpu(),
                "-bios",
                bios,
                "-kernel",
                &elf,
            ]
            .into_iter()
            .chain(common)
            .map(str::to_string)
            .collect()
        }
    };
    if mode == Mode::Smp4 {
        args.extend(["-smp".to_string(), "4".to_string()]);
    }
    if let Some(a) = append {
        args.extend(["-append".to_string(), a.to_string()]);
    }
    args
}

/// FEAT_LPA2 missing (ID_AA64MMFR0_EL1.TGran4 != 0b0001): the 52-bit
/// kernel says so on its serial line before turning the MMU on. QEMU's
/// `-cpu max` has it from 7.0 on, with `-M virt` 7.0 or later and without
/// `lpa2=off`.
fn lpa2_missing(serial: &str) -> Option<Outcome> {
    let l = serial
        .lines()
        .find(|l| l.starts_with("UNSUPPORTED FEAT_LPA2"))?;
    Some(Outcome::Skipped {
        row: "skipped: QEMU lacks FEAT_LPA2 (needs >= 7.0)",
        why: vec![
            l.trim().to_string(),
            "52-bit VAs need FEAT_LPA2 (QEMU >= 7.0 `-cpu max`): ran 48- and 39-bit only".into(),
        ],
    })
}

/// The number after `key=` in `text`.
fn field(text: &str, key: &str) -> Option<u64> {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.trim_end_matches([',', ';']).parse().ok())
}

fn run_qemu(elf: &Path, mode: Mode, opts: &Options) -> Result<Outcome, String> {
    let label = mode.label();
    let name = mode.name();
    let qemu = mode.arch().qemu();
    let verbose = opts.verbose;
    let secs = opts.timeout_secs;
    let args = qemu_args(elf, mode, opts.append.as_deref());
    if verbose {
        println!("[{name}] timeout {secs} {qemu} {}", args.join(" "));
    }
    let out = Command::new("timeout")
        .args(["-k", "5", &secs.to_string(), qemu])
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {qemu}: {e}"))?;
    let serial = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let status = out.status.code();

    // LA57 not offered: QEMU either stops with an error or warns and boots
    // a CPU without it. Either way, report QEMU's exact words and skip.
    if mode == Mode::Five && stderr.to_ascii_lowercase().contains("la57") {
        let mut why = vec![format!("QEMU refused `-cpu {}`:", mode.cpu())];
        why.extend(stderr.lines().map(|l| format!("  {l}")));
        why.push("5-level paging is unavailable here: ran 4-level only".into());
        return Ok(Outcome::Skipped {
            row: "skipped (QEMU refused LA57)",
            why,
        });
    }
    if mode == Mode::Va52 {
        if let Some(skip) = lpa2_missing(&serial) {
            return Ok(skip);
        }
    }

    if verbose {
        for l in serial.lines() {
            println!("[{name}] | {l}");
        }
    }
    if !stderr.is_empty() {
        for l in stderr.lines() {
            println!("[{name}] qemu stderr: {l}");
        }
    }

    let mut st = Stats::default();
    // `CHECK <name> ok <detail>`: scenario outcomes worth showing.
    let mut details = Vec::new();
    let mut result = None;
    let mut seen_mode = None;
    for line in serial.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix("CHECK ") {
            let (check, verdict) = rest.split_once(' ').unwrap_or((rest, ""));
            if verdict == "ok" {
                st.checks_ok += 1;
            } else if let Some(detail) = verdict.strip_prefix("ok ") {
                st.checks_ok += 1;
                details.push(format!("{check} ok {detail}"));
            } else {
                st.checks_failed.push(format!("{check}: {verdict}"));
            }
            if check == "crosscheck" {
                st.compared = field(verdict, "compared");
                st.differences = field(verdict, "differences");
            }
            let faults = field(verdict, "faulted").or_else(|| field(verdict, "faults"));
            if check.ends_with("/old") || check.ends_with("/new") {
                st.scenarios += 1;
                if check.ends_with("/old") {
                    st.old_faults += faults.unwrap_or(0);
                } else {
                    st.new_faults += faults.unwrap_or(0);
                }
                match field(verdict, "predicted") {
                    Some(p) => st.predicted += p,
                    None if verdict.starts_with("ok") => st.unpredicted += 1,
                    None => {}
                }
            }
        } else if let Some(r) = line.strip_prefix("RESULT ") {
            result = Some(r.trim().to_string());
        } else if let Some(m) = line.strip_prefix("MODE ") {
            seen_mode = Some(m.trim().to_string());
        }
    }

    let mut failures = std::mem::take(&mut st.failures);
    let pass_status = mode.arch().pass_status();
    match status {
        Some(124) | Some(137) => failures.push(format!("timeout after {secs} s")),
        Some(s) if s == pass_status => {}
        Some(s) => failures.push(format!("exit status {s}, want {pass_status}")),
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
    if st.checks_ok + st.checks_failed.len() == 0 {
        failures.push("no CHECK lines".to_string());
    }
    if let Some(column) = mode.sim_column() {
        let (counts, bad) = verdict_failures(&serial, column, &name);
        st.verdicts = Some(counts);
        failures.extend(bad);
    }
    if st.old_faults + st.new_faults != st.predicted || st.unpredicted > 0 {
        failures.push(format!(
            "scenario faults: real MMU {}, software MMU predicted {} ({} passing scenario lines without a prediction)",
            st.old_faults + st.new_faults,
            st.predicted,
            st.unpredicted
        ));
    }
    if !st.checks_failed.is_empty() {
        failures.push(format!("{} CHECK FAIL", st.checks_failed.len()));
    }
    st.failures = failures;

    println!(
        "[{name}] {} checks: {} ok, {} FAIL; RESULT {}; exit status {}",
        st.checks_ok + st.checks_failed.len(),
        st.checks_ok,
        st.checks_failed.len(),
        result.as_deref().unwrap_or("missing"),
        status.map_or("signal".to_string(), |s| s.to_string())
    );
    for d in &details {
        println!("[{name}]   {d}");
    }
    for f in &st.checks_failed {
        println!("[{name}]   FAIL {f}");
    }
    if !st.failures.is_empty() && !verbose {
        println!("[{name}] serial log:");
        for l in serial.lines() {
            println!("[{name}] | {l}");
        }
    }
    Ok(Outcome::Ran(st))
}

#[cfg(test)]
mod tests {
    use super::summary::sim_verdicts;
    use super::*;

    #[test]
    fn a_cpu_without_lpa2_skips_52_bit() {
        // The arm64 kernel's exact line (boot.rs), as `-cpu max,lpa2=off`
        // prints it.
        let serial = "MODE arm64/52-bit\nUNSUPPORTED FEAT_LPA2: ID_AA64MMFR0_EL1.TGran4 \
                      is not 0b0001 (no 52-bit VAs with 4 KiB pages on this CPU)\nRESULT fail\n";
        match lpa2_missing(serial) {
            Some(Outcome::Skipped { row, why }) => {
                assert_eq!(row, "skipped: QEMU lacks FEAT_LPA2 (needs >= 7.0)");
                assert!(why[0].starts_with("UNSUPPORTED FEAT_LPA2: ID_AA64MMFR0_EL1.TGran4"));
            }
            _ => panic!("not skipped"),
        }
        assert!(lpa2_missing("MODE arm64/52-bit\nRESULT fail\n").is_none());
    }

    #[test]
    fn every_mode_has_a_simulator_column() {
        for m in ALL_MODES {
            let c = m.sim_column().expect("a column");
            assert!(sim_verdicts(c).is_ok_and(|v| !v.is_empty()), "{c}");
        }
        // 52-bit borrows 48-bit's column: the simulator's arm64 columns
        // agree row for row.
        let (a, b) = (sim_verdicts("arm64/48-bit"), sim_verdicts("arm64/39-bit"));
        assert_eq!(a.expect("48"), b.expect("39"));
    }
}
