//! What the benchmarks that drive the whole local cloud share: starting it from the workspace's
//! debug binaries (next to the benchmark's own) over a temporary data folder.

pub mod engine_process;

use std::path::PathBuf;
use std::time::Duration;

use todo_local::cloud::{CloudConfig, LocalCloud};
use todo_local::template::Template;

/// A local cloud for benchmark `name`, its schedules every `schedule_every`; and its data
/// folder, to remove when done.
pub async fn local_cloud(name: &str, schedule_every: Duration) -> (LocalCloud, PathBuf) {
    let data = std::env::temp_dir().join(format!("todo-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let bin_dir = std::env::current_exe()
        .expect("own path")
        .parent()
        .expect("target dir")
        .to_path_buf();
    let config = CloudConfig {
        data_dir: data.clone(),
        artifacts: todo_local::artifacts::Artifacts::Workspace(bin_dir),
        api_port: 0,
        print_invocations: false,
        verbose: false,
        schedule_every: Some(schedule_every),
        concurrency: todo_local::cloud::DEFAULT_CONCURRENCY,
        enforce_iam: true,
        max_connections: todo_local::connections::default_max_connections(),
    };
    let template = Template::workspace().expect("template.yaml");
    let cloud = LocalCloud::start(&template, &config)
        .await
        .expect("the local cloud starts (build the workspace binaries first)");
    (cloud, data)
}
