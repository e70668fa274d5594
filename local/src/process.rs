//! Child processes (the broker, the function binaries) that never outlive the local cloud.
//!
//! `kill_on_drop` covers an orderly stop; a `todo-local` killed with SIGKILL runs no destructor.
//! On Linux the kernel itself can end the children then: `PR_SET_PDEATHSIG` delivers SIGKILL to
//! a child when the thread that started it exits (tokio's worker threads live as long as the
//! process does).

use tokio::process::Command;

/// Arranges for the child `command` starts to be killed when this process dies.
pub fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only makes two
        // async-signal-safe system calls (prctl, getppid) and, if the parent is already gone,
        // _exit; it touches no memory shared with the parent.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then no signal would come.
                if libc::getppid() as u32 != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}
