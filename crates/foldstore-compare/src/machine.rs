//! What the figures were measured on: CPUs, kernel, the file system of the work folder, the
//! date, and the versions of the other programs.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use serde_json::{json, Value};

/// The machine and the run's circumstances.
#[derive(Debug)]
pub struct Machine {
    /// `nproc`: the CPUs this process may use.
    pub cpus: usize,
    /// The first `model name` of `/proc/cpuinfo`.
    pub cpu_model: String,
    /// The kernel's release.
    pub kernel: String,
    /// The file system type of the work folder and its device.
    pub file_system: String,
    /// When the run started, UTC.
    pub date: String,
    /// The SQLite library's version.
    pub sqlite: String,
}

impl Machine {
    /// Describes this machine, with `folder` the work folder.
    pub fn describe(folder: &Path) -> Machine {
        let unknown = || "unknown".to_owned();
        let cpu_model = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|line| line.starts_with("model name"))
                    .and_then(|line| line.split_once(':'))
                    .map(|(_, model)| model.trim().to_owned())
            })
            .unwrap_or_else(unknown);
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|text| text.trim().to_owned())
            .unwrap_or_else(|_| unknown());
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            kernel,
            file_system: file_system(folder).unwrap_or_else(unknown),
            date: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            sqlite: rusqlite::version().to_owned(),
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "cpus": self.cpus,
            "cpu_model": self.cpu_model,
            "kernel": self.kernel,
            "file_system": self.file_system,
            "date": self.date,
            "sqlite": self.sqlite,
        })
    }
}

/// `"<type> on <device>"` for the mount that holds `folder`, from `/proc/self/mounts`, and
/// whether an ext4 file system has no journal (which changes what syncs and file creations
/// cost).
fn file_system(folder: &Path) -> Option<String> {
    let folder = folder.canonicalize().ok()?;
    let mounts = fs::read_to_string("/proc/self/mounts").ok()?;
    let (kind, device) = mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let (device, point, kind) = (fields.next()?, fields.next()?, fields.next()?);
            // Spaces in mount points are written as \040; such mounts are not matched.
            folder
                .starts_with(point)
                .then_some((point.len(), kind, device))
        })
        .max_by_key(|(length, _, _)| *length)
        .map(|(_, kind, device)| (kind, device))?;
    let name = device.rsplit('/').next().unwrap_or(device);
    let journal = fs::read_to_string(format!("/sys/fs/ext4/{name}/journal_task")).ok();
    Some(match journal.as_deref().map(str::trim) {
        Some("<none>") if kind == "ext4" => format!("{kind} without a journal on {device}"),
        _ => format!("{kind} on {device}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_is_described() {
        let dir = tempfile::tempdir().unwrap();
        let machine = Machine::describe(dir.path());
        assert!(machine.cpus >= 1);
        assert!(machine.date.ends_with('Z'), "{}", machine.date);
        assert!(machine.sqlite.starts_with('3'), "{}", machine.sqlite);
        if cfg!(target_os = "linux") {
            assert!(
                machine.file_system.contains(" on "),
                "{}",
                machine.file_system
            );
        }
    }
}
