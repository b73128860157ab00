//! `pgtable ptdump`: the page tables of a process (or of init_mm) after a
//! scenario, in the format of the mode's Linux dumper.

use crate::args::PtdumpArgs;
use crate::scenario::{not_applicable, unknown_scenario, valid_scenarios};
use crate::{out, print_json, text, Failure};
use pgtable_sim::scenarios::{self, Config, SCENARIOS};
use pgtable_sim::{ptdump, Context, SimError, Variant};
use serde::Serialize;

#[derive(Serialize)]
struct PtdumpJson {
    scenario: String,
    variant: Variant,
    mode: &'static str,
    space: Option<usize>,
    #[serde(serialize_with = "pgtable_sim::json::hex")]
    root: u64,
    #[serde(serialize_with = "pgtable_sim::json::hex")]
    kernel_root: u64,
    out_of_sync_slots: Vec<u64>,
    items: Vec<PtdumpItem>,
}

/// One line of a dump, for `--json`.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PtdumpItem {
    /// A marker header.
    Section { name: &'static str, text: String },
    /// A run of entries; `end` 0 is the top of the address space.
    Range {
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        start: u64,
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        end: u64,
        /// Bytes, as hex too: the user half's size is above 2^53.
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        size: u64,
        present: bool,
        level: &'static str,
        text: String,
    },
    /// x86's "... N entries skipped ...".
    Skipped { count: u64, text: String },
    /// An entry of the dumped root that differs from init_mm's.
    OutOfSync {
        level: &'static str,
        slot: u64,
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        start: u64,
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        kernel: u64,
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        this: u64,
        text: String,
    },
}

impl From<&pgtable::ptdump::Item> for PtdumpItem {
    fn from(i: &pgtable::ptdump::Item) -> Self {
        use pgtable::ptdump::Item;
        let text = i.to_string();
        match i {
            Item::Marker(name) => PtdumpItem::Section { name, text },
            Item::Range(r) => PtdumpItem::Range {
                start: r.start,
                end: r.end,
                size: r.size(),
                present: r.is_mapped(),
                level: r.level_name,
                text,
            },
            Item::Skipped(n) => PtdumpItem::Skipped { count: *n, text },
            Item::OutOfSync(d) => PtdumpItem::OutOfSync {
                level: d.level.name(),
                slot: d.index,
                start: d.start,
                kernel: d.kernel,
                this: d.this,
                text,
            },
        }
    }
}

/// The dump as text: Linux's lines as Linux prints them, whatever their
/// width (arm64's and riscv's run past 80 columns); the command's own `#`
/// lines wrapped to 80 columns, each continuation a `#` line too.
fn render(items: &[pgtable::ptdump::Item]) -> String {
    let mut s = String::new();
    for i in items {
        let line = i.to_string();
        match i {
            pgtable::ptdump::Item::OutOfSync(_) => s.push_str(&text::comment(&line)),
            _ => {
                s.push_str(&line);
                s.push('\n');
            }
        }
    }
    s
}

/// `pgtable ptdump`.
pub fn ptdump(a: &PtdumpArgs, json: bool) -> Result<bool, Failure> {
    let arch = a.mode();
    let scenario = match &a.scenario {
        Some(s) => s.clone(),
        None if scenarios::applies("hotplug-new-slot", arch).is_ok() => "hotplug-new-slot".into(),
        None => "vmalloc-new-slot".into(),
    };
    if scenario == "stress" {
        return Err(Failure::Usage(format!(
            "ptdump cannot dump the stress scenario; {}",
            valid_scenarios(true)
        )));
    }
    if !SCENARIOS.iter().any(|s| s.name == scenario) {
        return Err(Failure::Usage(unknown_scenario(&scenario, true)));
    }
    let cfg = Config {
        arch,
        ..Config::default()
    };
    let variant = if a.old { Variant::Old } else { Variant::New };
    let m = scenarios::run_machine(&scenario, &cfg, variant).map_err(|e| match e {
        SimError::NotApplicable(why) => Failure::Usage(not_applicable(&scenario, arch, why)),
        e => e.into(),
    })?;
    let ctx = a.space.map_or(Context::Kernel, Context::Process);
    let root = m.root_of(ctx).map_err(|_| {
        let ids: Vec<String> = m.process_ids().iter().map(|i| i.to_string()).collect();
        Failure::Usage(format!(
            "no process {}; the machine has processes {}",
            a.space.unwrap_or(0),
            ids.join(", ")
        ))
    })?;
    // A process's dump marks its entries that differ from init_mm's and
    // shows its user half too; init_mm's is exactly Linux's.
    let marks = a.space.is_some();
    let sim = |e: pgtable::ptdump::DumpError| Failure::Sim(format!("ptdump: {e}"));
    let items = ptdump::items(&m, root, marks).map_err(sim)?;
    let out_of_sync: Vec<u64> = ptdump::out_of_sync(&m, root)
        .map_err(sim)?
        .iter()
        .map(|d| d.index)
        .collect();
    let mode = pgtable::PagingGeometry::name(&m.arch);
    if json {
        print_json(&PtdumpJson {
            scenario: scenario.clone(),
            variant,
            mode,
            space: a.space,
            root: root.0,
            kernel_root: m.pt.kernel_root().0,
            out_of_sync_slots: out_of_sync,
            items: items.iter().map(PtdumpItem::from).collect(),
        })?;
        return Ok(true);
    }
    let code = if a.old { "old" } else { "new" };
    out(text::comment(&format!(
        "{mode} after {scenario} ({code} code)"
    )));
    out(text::comment(&format!("{ctx} root at {:#x}", root.0)));
    out(render(&items));
    if a.space.is_some() {
        let last = if out_of_sync.is_empty() {
            "every kernel entry matches init_mm's".to_string()
        } else {
            let one = out_of_sync.len() == 1;
            format!(
                "{} kernel entr{} from init_mm's: {:?}",
                out_of_sync.len(),
                if one { "y differs" } else { "ies differ" },
                out_of_sync
            )
        };
        out(text::comment(&last));
    }
    Ok(true)
}
