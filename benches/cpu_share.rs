//! Lambda's CPU share on this machine: a function gets a share of a vCPU proportional to its
//! memory (1,769 MB buys one vCPU), which the cgroup `cpu` controller reproduces as a quota per
//! period. cgroup v2 (`cpu.max`) where the machine has it, v1 (`cpu.cfs_quota_us`) otherwise;
//! both need root.

use std::path::{Path, PathBuf};

/// Memory that buys one full vCPU.
pub const MB_PER_VCPU: f64 = 1769.0;
/// The scheduling period: Lambda's own is not published; 20 ms keeps the quota's granularity
/// fine enough for batches of tens of milliseconds.
const PERIOD_US: u64 = 20_000;

/// A cgroup holding processes to `mb / 1769` of a CPU; removed on drop.
pub struct CpuShare {
    dir: PathBuf,
    pub vcpu: f64,
}

fn write(path: &Path, value: &str) -> Result<(), String> {
    std::fs::write(path, value).map_err(|e| format!("writing {value:?} to {}: {e}", path.display()))
}

impl CpuShare {
    pub fn create(mb: u32) -> Result<Self, String> {
        let vcpu = f64::from(mb) / MB_PER_VCPU;
        let quota = ((PERIOD_US as f64) * vcpu).ceil() as u64;
        let name = format!("ttl-archiver-bench-{mb}-{}", std::process::id());
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers");
        let v1 = Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
        if std::fs::read_to_string(v2).is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu")) {
            let _ = write(Path::new("/sys/fs/cgroup/cgroup.subtree_control"), "+cpu");
            let dir = Path::new("/sys/fs/cgroup").join(name);
            std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            write(&dir.join("cpu.max"), &format!("{quota} {PERIOD_US}"))?;
            Ok(CpuShare { dir, vcpu })
        } else if v1.exists() {
            let dir = Path::new("/sys/fs/cgroup/cpu").join(name);
            std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
            write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
            Ok(CpuShare { dir, vcpu })
        } else {
            Err("this machine has no cgroup cpu controller (neither v2 cpu.max nor v1 cpu.cfs_quota_us)".into())
        }
    }

    /// Writing a process id here moves the process into the share.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }
}

impl Drop for CpuShare {
    fn drop(&mut self) {
        // Its processes have exited by now (they were killed on drop before it).
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
