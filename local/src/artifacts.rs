//! Where the functions' code comes from, and how to start it.
//!
//! By default the local cloud runs the workspace's binaries (`target/debug/<binary>`). With
//! `--packaged DIR` it runs what `sam build` packaged instead (`DIR/<LogicalId>/bootstrap`, as
//! deployed): built for arm64, those run here under qemu-user (Debian's `qemu-user` with the
//! arm64 C library of `libc6-arm64-cross`), chosen from the binary's own ELF header.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::template::FunctionDefinition;

/// The function code the local cloud runs.
#[derive(Clone, Debug)]
pub enum Artifacts {
    /// The workspace's binaries, by their `BuildProperties.Binary` name, in this folder.
    Workspace(PathBuf),
    /// `sam build`'s output folder (`.aws-sam/build`): `<LogicalId>/bootstrap` per function.
    Packaged(PathBuf),
}

impl Artifacts {
    /// The executable of `f`.
    pub fn binary(&self, f: &FunctionDefinition) -> PathBuf {
        match self {
            Artifacts::Workspace(dir) => dir.join(&f.binary),
            Artifacts::Packaged(dir) => dir.join(&f.logical_id).join("bootstrap"),
        }
    }
}

/// The machine an ELF executable is built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
    Other(u16),
}

/// `e_machine` of an ELF file (little-endian, as both targets are), if it is one.
pub fn machine_of(binary: &Path) -> Option<Machine> {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(binary)
        .ok()?
        .read_exact(&mut header)
        .ok()?;
    if &header[..4] != b"\x7fELF" {
        return None;
    }
    Some(match u16::from_le_bytes([header[18], header[19]]) {
        0x3e => Machine::X86_64,
        0xb7 => Machine::Aarch64,
        other => Machine::Other(other),
    })
}

/// The arm64 C library Debian's `libc6-arm64-cross` installs, for qemu-user's `-L`.
pub const ARM64_SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// A command that starts `binary` on this machine: itself, or under `qemu-aarch64` when it is
/// an arm64 executable and this machine is not.
pub fn command_for(binary: &Path) -> Command {
    let host_is_arm = cfg!(target_arch = "aarch64");
    match machine_of(binary) {
        Some(Machine::Aarch64) if !host_is_arm => {
            let mut c = Command::new("qemu-aarch64");
            c.arg("-L").arg(ARM64_SYSROOT).arg(binary);
            c
        }
        _ => Command::new(binary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_machine_from_the_elf_header() {
        let me = std::env::current_exe().unwrap();
        let expected = if cfg!(target_arch = "aarch64") {
            Machine::Aarch64
        } else {
            Machine::X86_64
        };
        assert_eq!(machine_of(&me), Some(expected));
        let dir = std::env::temp_dir().join(format!("todo-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut arm = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\xb7\0".to_vec();
        arm.extend([0u8; 44]);
        std::fs::write(dir.join("arm"), &arm).unwrap();
        std::fs::write(dir.join("script"), b"#!/bin/sh\n").unwrap();
        assert_eq!(machine_of(&dir.join("arm")), Some(Machine::Aarch64));
        assert_eq!(machine_of(&dir.join("script")), None);
        assert_eq!(machine_of(&dir.join("missing")), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn packaged_artifacts_are_found_by_logical_id() {
        let f = FunctionDefinition {
            logical_id: "CreateTaskFunction".into(),
            binary: "tasks-create".into(),
            environment: Vec::new(),
            timeout_seconds: 10,
            events: Vec::new(),
            reserved_concurrency: None,
            log_format: None,
        };
        assert_eq!(
            Artifacts::Packaged(".aws-sam/build".into()).binary(&f),
            PathBuf::from(".aws-sam/build/CreateTaskFunction/bootstrap")
        );
        assert_eq!(
            Artifacts::Workspace("target/debug".into()).binary(&f),
            PathBuf::from("target/debug/tasks-create")
        );
    }
}
