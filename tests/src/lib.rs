//! Starting the local cloud in-process for end-to-end tests: free ports, a temporary data
//! folder, the workspace's debug binaries.

use std::path::PathBuf;

use todo_local::cloud::{CloudConfig, LocalCloud};
use todo_local::template::Template;

/// A temporary data folder, removed when dropped.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("todo-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The folder holding the workspace's binaries (`target/debug`), next to the test's `deps`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|d| d.parent())
        .map(PathBuf::from)
        .expect("target dir")
}

/// Starts the cloud on a free port over `data`.
pub async fn start(data: &DataDir) -> LocalCloud {
    let template = Template::workspace().expect("template.yaml");
    let config = CloudConfig {
        data_dir: data.0.clone(),
        bin_dir: bin_dir(),
        api_port: 0,
        print_invocations: false,
        schedule_every: Some(std::time::Duration::from_secs(1)),
    };
    LocalCloud::start(&template, &config)
        .await
        .expect("the local cloud starts (scripts/test builds the binaries and tansu first)")
}
