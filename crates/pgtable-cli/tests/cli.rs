//! The `pgtable` binary, run as a user would.

use std::process::{Command, Output};

fn pgtable(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgtable"))
        .args(args)
        .output()
        .expect("run pgtable")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn no_argument_runs_every_scenario_in_both_modes() {
    let o = pgtable(&[]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    for name in [
        "hotplug-new-slot",
        "compound-devmap",
        "subpmd-clear",
        "vmalloc-new-slot",
        "ioremap",
        "kasan-shadow",
        "percpu",
        "stress",
    ] {
        assert!(out.contains(name), "{name} missing:\n{out}");
    }
    for commit in ["9b861528a801", "4917f55b4ef9", "8d400913c231"] {
        assert!(out.contains(commit), "{commit} missing:\n{out}");
    }
    assert!(out.contains("x86_64/5-level") && out.contains("x86_64/4-level"));
    // What the MMU saw in the eras that oopsed, the eras, and the fault
    // handler's fixes.
    assert!(out.contains("not present at PML4") && out.contains("not present at PML5"));
    assert!(out.contains("Eras"));
    for era in ["pre-9b861528a801", "pre-5.8", "5.8–6.16", "6.17+"] {
        assert!(out.contains(&format!("— {era}: ")), "{era} missing:\n{out}");
    }
    assert!(out.contains("fault fixed by the fault handler (vmalloc_fault()"));
    assert!(out.contains("fault fixed by the fault handler (do_translation_fault()"));
    assert!(
        out.lines().all(|l| l.chars().count() <= 80),
        "a line is wider than 80 columns:\n{out}"
    );
    assert!(!out.contains("FAILED"), "{out}");
}

#[test]
fn no_argument_json_has_every_outcome() {
    let o = pgtable(&["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["ok"], true);
    let outcomes = v["outcomes"].as_array().unwrap();
    let skipped = v["not_applicable"].as_array().unwrap();
    let modes = pgtable_sim::SimArch::all().len();
    assert_eq!(outcomes.len() + skipped.len(), modes * 8);
    // Only the 32-bit modes skip: vmemmap/hotplug (3) and KASAN (1).
    assert_eq!(skipped.len(), 4 * 4, "{skipped:?}");
    assert!(skipped
        .iter()
        .all(|s| !s["why"].as_str().unwrap().is_empty()));
    let stress = outcomes.iter().find(|o| o["scenario"] == "stress").unwrap();
    assert_eq!(stress["eras"].as_array().unwrap().len(), 1, "library only");
    // Every era carries its release range, Linux source and verdict; each
    // verdict is the expected one; arm64 never faults; the library never
    // faults anywhere.
    for o in outcomes {
        let mode = o["mode"].as_str().unwrap();
        for e in o["eras"].as_array().unwrap() {
            for key in ["era", "era_name", "releases", "linux_source", "why"] {
                assert!(e[key].is_string(), "{mode}: {key} missing in {e}");
            }
            assert_eq!(e["verdict"], e["expected"], "{mode} {e}");
            if mode.starts_with("arm64") {
                assert!(matches!(
                    e["verdict"].as_str(),
                    Some("no-fault" | "not-in-era")
                ));
            }
            if e["era"] == "v617" {
                assert_eq!(e["verdict"], "no-fault", "{mode} {e}");
                assert!(e["run"]["faults"].as_array().unwrap().is_empty());
            }
        }
    }
}

#[test]
fn arch_selects_one_mode_and_unknown_ones_are_usage_errors() {
    let o = pgtable(&["--arch", "arm64", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let outcomes = v["outcomes"].as_array().unwrap();
    assert!(outcomes.iter().all(|o| o["mode"] == "arm64/48-bit"));
    assert_eq!(outcomes.len(), 8);
    let o = pgtable(&["--arch", "vax"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("x86_32/PAE"), "{}", stderr(&o));
    let o = pgtable(&["scenario", "hotplug-new-slot", "--arch", "arm32"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("hotplug-new-slot does not apply to arm32/short: 32-bit"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn subpmd_clear_json_faults_in_5_8_to_6_16_and_is_clean_in_6_17() {
    let o = pgtable(&["scenario", "subpmd-clear", "--levels", "4", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let outcomes = v["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1);
    let out = &outcomes[0];
    assert_eq!(out["mode"], "x86_64/4-level");
    assert_eq!(out["commit"], "8d400913c231");
    let era = |name: &str| {
        out["eras"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["era_name"] == name)
            .unwrap()
            .clone()
    };
    // 8d400913c231 (5.13): the memset before vmemmap_populate()'s sync.
    let bug = era("5.8–6.16");
    assert_eq!(bug["verdict"], "fault");
    assert!(!bug["run"]["faults"].as_array().unwrap().is_empty());
    assert_eq!(era("pre-5.8")["verdict"], "no-fault");
    let lib = era("6.17+");
    assert!(lib["run"]["faults"].as_array().unwrap().is_empty());
    assert_eq!(lib["verdict"], "no-fault");
    assert_eq!(out["ok"], true);
}

#[test]
fn scenario_text_report_has_cpus_faults_and_figures() {
    let o = pgtable(&[
        "scenario",
        "hotplug-new-slot",
        "--levels",
        "4",
        "--cpus",
        "2",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for want in [
        "x86_64/4-level",
        "cpu1",
        "faults:",
        "sync calls",
        "entries copied",
        "table memory",
        "checker:",
        "verdict: ok",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
    assert!(!out.contains("cpu2"), "--cpus 2 gives two CPUs:\n{out}");
}

#[test]
fn unknown_scenario_is_a_usage_error_listing_the_valid_ones() {
    let o = pgtable(&["scenario", "nosuch"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("unknown scenario \"nosuch\""), "{err}");
    assert!(
        err.contains("hotplug-new-slot") && err.contains("subpmd-clear") && err.contains("stress")
    );
    let o = pgtable(&["scenario", "percpu", "--levels", "3"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn stress_compares_the_three_strategies() {
    let o = pgtable(&["scenario", "stress", "--levels", "4", "--steps", "300"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", stderr(&o));
    assert!(out.contains("Strategies compared"), "{out}");
    for s in ["eager", "prealloc", "lazy"] {
        assert!(out.contains(s), "{s} missing:\n{out}");
    }
    let o = pgtable(&[
        "scenario", "stress", "--levels", "5", "--steps", "300", "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["reports"].as_array().unwrap().len(), 3);
    assert!(o.stderr.is_empty(), "no progress bar with --json");
}

#[test]
fn ptdump_marks_out_of_sync_slots_only_for_the_old_code() {
    let o = pgtable(&["ptdump", "--old", "--space", "0"]);
    // A `#` line wrapped to 80 columns continues on `#   ` lines.
    let out = stdout(&o).replace("\n#   ", " ");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.contains("---[ Low Kernel Mapping ]---"), "{out}");
    assert!(out.contains("differs from the kernel's"), "{out}");
    let o = pgtable(&["ptdump", "--space", "0"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0));
    assert!(out.contains("---[ Vmemmap ]---"), "{out}");
    assert!(!out.contains("differs from the kernel's"), "{out}");
    let o = pgtable(&["ptdump", "--old", "--space", "0", "--levels", "5", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert!(!v["out_of_sync_slots"].as_array().unwrap().is_empty());
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["kind"] == "out_of_sync"));
}

#[test]
fn ptdump_prints_every_mode_in_its_own_format() {
    for (arch, first, line) in [
        ("x86_64/5-level", "---[ User Space ]---", " pud"),
        ("x86_32/2-level", "---[ User Space ]---", " pmd"),
        ("x86_32/PAE", "---[ User Space ]---", " pmd"),
        ("x86_32/PAE-unshared-pmd", "---[ User Space ]---", " pmd"),
        (
            "arm64/48-bit",
            "---[ Linear Mapping start ]---",
            "MEM/NORMAL",
        ),
        (
            "arm64/39-bit",
            "---[ Linear Mapping start ]---",
            "MEM/NORMAL",
        ),
        ("riscv64/sv57", "---[ Fixmap start ]---", "D A G . . W R V"),
        ("riscv64/sv48", "---[ Fixmap start ]---", "D A G . . W R V"),
        ("riscv64/sv39", "---[ Fixmap start ]---", "D A G . . W R V"),
        (
            "arm32/short",
            "---[ Modules ]---",
            " PGD KERNEL      RW NX SHD",
        ),
    ] {
        let o = pgtable(&["ptdump", "--arch", arch]);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{arch}: {}", stderr(&o));
        // The `#` header (mode, scenario, root), then Linux's dump.
        let mut lines = out.lines().skip_while(|l| l.starts_with("# "));
        assert!(out.starts_with(&format!("# {arch} after ")), "{out}");
        assert_eq!(lines.next(), Some(first), "{arch}:\n{out}");
        assert!(
            out.lines().any(|l| l.contains(line)),
            "{arch}: no {line:?}:\n{out}"
        );
    }
}

#[test]
fn ptdump_usage_errors() {
    let o = pgtable(&["ptdump", "--space", "99"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no process 99"));
    let o = pgtable(&["ptdump", "--scenario", "stress"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A full benchmark run from a build that is not the fair one (fat LTO for
/// the library and the peers alike) is refused with a usage error that
/// names the command that builds it fairly; the test binary is such a build.
#[test]
fn bench_refuses_an_unfair_full_run() {
    let o = pgtable(&["bench", "--runs", "1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("--profile bench-fair"), "{err}");
    assert!(stdout(&o).is_empty(), "nothing measured");
}

/// Every number in `--json` output is exact in a double: addresses (far
/// above 2^53 in a kernel's upper half) go out as hex strings.
#[test]
fn json_numbers_never_lose_bits() {
    fn walk(v: &serde_json::Value, path: &str, bad: &mut Vec<String>) {
        match v {
            serde_json::Value::Number(n) if n.as_u64().is_some_and(|x| x > 1 << 53) => {
                bad.push(format!("{path} = {n}"));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, path, bad)),
            serde_json::Value::Object(o) => o
                .iter()
                .for_each(|(k, x)| walk(x, &format!("{path}.{k}"), bad)),
            _ => {}
        }
    }
    for args in [
        &["--json", "--arch", "x86_64/4-level"][..],
        &["ptdump", "--json", "--arch", "x86_64/4-level"][..],
    ] {
        let o = pgtable(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        let mut bad = Vec::new();
        walk(&v, "", &mut bad);
        assert!(bad.is_empty(), "{args:?}: {}", bad.join("\n"));
        assert!(stdout(&o).contains("\"0xffff"), "addresses as hex strings");
    }
}

/// `--json` is honoured by every command: stdout is one JSON document.
#[test]
fn every_command_honours_json() {
    for args in [
        &["--json", "--arch", "arm32"][..],
        &["scenario", "list", "--json"][..],
        &["scenario", "percpu", "--arch", "arm32", "--json"][..],
        &["scenario", "kasan-shadow", "--json"][..],
        &[
            "scenario",
            "stress",
            "--levels",
            "4",
            "--strategy",
            "eager",
            "--steps",
            "20",
            "--json",
        ][..],
        &["ptdump", "--arch", "arm32", "--json"][..],
        &["bench", "--quick", "--json"][..],
    ] {
        let o = pgtable(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        let v: Result<serde_json::Value, _> = serde_json::from_slice(&o.stdout);
        assert!(v.is_ok(), "{args:?}: not JSON:\n{}", stdout(&o));
    }
    // The scenarios a mode skips are in the data, not only on a terminal.
    let o = pgtable(&["scenario", "kasan-shadow", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let skipped = v["not_applicable"].as_array().unwrap();
    assert!(skipped.iter().any(|s| s["mode"] == "arm32/short"), "{v}");
    let o = pgtable(&["scenario", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["scenarios"].as_array().unwrap().len(), 8);
}

/// `--arch` before a command is that command's `--arch`.
#[test]
fn arch_before_a_command_is_the_commands() {
    for (before, after) in [
        (
            &["--arch", "sv48", "ptdump", "--space", "1"][..],
            &["ptdump", "--space", "1", "--arch", "sv48"][..],
        ),
        (
            &["--arch", "pae", "scenario", "percpu", "--cpus", "2"][..],
            &["scenario", "percpu", "--cpus", "2", "--arch", "pae"][..],
        ),
    ] {
        let (b, a) = (pgtable(before), pgtable(after));
        assert_eq!(b.status.code(), Some(0), "{before:?}: {}", stderr(&b));
        assert_eq!(stdout(&b), stdout(&a), "{before:?}");
    }
}

/// A reader that stops reading (`pgtable | head`) ends the output quietly:
/// no panic, the exit status still the verdicts'.
#[test]
fn a_closed_pipe_is_not_a_crash() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pgtable"))
        // More than a pipe holds (64 KiB), so the command is still
        // writing when the reader goes.
        .args(["--json", "--arch", "x86_64"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run pgtable");
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is closed here, before the command has written it all.
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
