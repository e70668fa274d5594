//! A function process's log: its standard output and error, read through one pipe (so the two
//! keep their order), line by line, into the function's log file (what CloudWatch Logs would
//! hold: each line with the time it arrived, and Lambda's `START`, `END` and `REPORT` lines around
//! each invocation) and into the lines of the invocation running at the time.
//!
//! A line belongs to the invocation it was written during: the function writes it before it
//! answers the Runtime API, so the pipe holds it by then, and [`FunctionLog::end`] reads the
//! pipe dry before it hands the invocation its lines. What a process writes between
//! invocations (while starting, or from a background task) goes to the file only.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;

/// The most lines one invocation keeps (its log file keeps every one).
pub const MAX_LINES: usize = 1000;

/// The longest line kept whole; a longer one is cut there (its remainder is the next line).
const MAX_LINE_BYTES: usize = 256 * 1024;

/// The log file of `function` under the data folder: `logs/<function>.log`.
pub fn file_of(data_dir: &Path, function: &str) -> PathBuf {
    data_dir.join("logs").join(format!("{function}.log"))
}

/// Told each line a function writes, as it is read (the console shows a failure as it
/// happens): the function's logical id and the line.
#[derive(Clone)]
pub struct Watch(pub Arc<LineWatcher>);

/// What a [`Watch`] calls: the function's logical id and one line it wrote.
pub type LineWatcher = dyn Fn(&str, &str) + Send + Sync;

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watch")
    }
}

/// Writes the log file at `path` to `out`; with `follow`, keeps writing what is added, as
/// `tail -f` does, waiting for a file not written yet and reading one started again (a reset
/// data folder) from its beginning. False when there is no such file and `follow` is not set.
pub async fn print(path: &Path, follow: bool, out: &mut impl Write) -> std::io::Result<bool> {
    use std::io::{Read, Seek};
    let mut file: Option<std::fs::File> = None;
    let mut read = 0;
    loop {
        if file.is_none() {
            file = std::fs::File::open(path).ok();
            read = 0;
        }
        match file.as_mut() {
            None if !follow => return Ok(false),
            None => {}
            Some(f) => {
                let mut text = Vec::new();
                read += f.read_to_end(&mut text)? as u64;
                out.write_all(&text)?;
                out.flush()?;
                // A log gone or shorter than what was read was started again.
                match std::fs::metadata(path) {
                    Ok(m) if m.len() >= read => {
                        f.seek(std::io::SeekFrom::Start(read))?;
                    }
                    _ => file = None,
                }
            }
        }
        if !follow {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The text of Lambda's `REPORT` line after `RequestId: ...`.
pub fn report(duration: std::time::Duration, init: Option<std::time::Duration>) -> String {
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let mut report = format!(
        "Duration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: 128 MB",
        ms(duration),
        duration.as_millis().max(1)
    );
    if let Some(init) = init {
        report.push_str(&format!("\tInit Duration: {:.2} ms", ms(init)));
    }
    report
}

/// One process's output, as it is read.
pub struct FunctionLog {
    pipe: pipe::Receiver,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bytes after the last newline.
    partial: Vec<u8>,
    /// The running invocation's lines, when one runs.
    current: Option<Vec<String>>,
    file: Option<std::fs::File>,
    /// The function's name and who is told each line.
    watch: Option<(String, Watch)>,
    /// Lines of the running invocation past [`MAX_LINES`] not kept.
    dropped: usize,
}

impl FunctionLog {
    /// A pipe for one process, appending to `file` (created with its folder) when given and
    /// telling `watch` each line of `function`: the log, and the write end to give the process
    /// as its standard output and error. The log reads as long as the process writes: the task
    /// this spawns ends when the process has closed its end.
    pub fn open(
        file: Option<&Path>,
        function: &str,
        watch: Option<Watch>,
    ) -> std::io::Result<(Arc<Self>, OwnedFd)> {
        let (sender, receiver) = pipe::pipe()?;
        let file = match file {
            Some(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?,
                )
            }
            None => None,
        };
        let log = Arc::new(Self {
            pipe: receiver,
            state: Mutex::new(State {
                file,
                watch: watch.map(|w| (function.to_string(), w)),
                ..State::default()
            }),
        });
        let reader = Arc::clone(&log);
        tokio::spawn(async move {
            while reader.pipe.readable().await.is_ok() {
                // WouldBlock (read dry) clears the pipe's readiness until more comes.
                match reader.pipe.try_io(|| reader.drain()) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    _ => break,
                }
            }
        });
        Ok((log, sender.into_blocking_fd()?))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads what the pipe holds now, whether or not the runtime has seen it arrive yet:
    /// `Err(WouldBlock)` once read dry, `Ok` once the process has closed its end.
    fn drain(&self) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let mut state = self.state();
        let mut buffer = [0u8; 16 * 1024];
        loop {
            // SAFETY: reads into a buffer this function owns, at most its length, from the
            // pipe's descriptor, which `self.pipe` keeps open (and non-blocking) meanwhile.
            let n = unsafe {
                libc::read(
                    self.pipe.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            match n {
                0 => {
                    let rest = std::mem::take(&mut state.partial);
                    if !rest.is_empty() {
                        state.line(&rest);
                    }
                    return Ok(());
                }
                n if n > 0 => state.bytes(&buffer[..n as usize]),
                _ => {
                    let error = std::io::Error::last_os_error();
                    if error.kind() != std::io::ErrorKind::Interrupted {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// An invocation starts: Lambda's `START` line, and its lines from now on.
    pub fn begin(&self, request_id: &str) {
        let _ = self.drain();
        let mut state = self.state();
        state.platform(&format!("START RequestId: {request_id} Version: $LATEST"));
        state.current = Some(Vec::new());
        state.dropped = 0;
    }

    /// The invocation ends: its lines (what the pipe holds is read first, and past
    /// [`MAX_LINES`] a line saying how many more the file has), then in the file what Lambda
    /// logs itself when the runtime failed (`platform`) and its `END` and `REPORT` lines.
    pub fn end(&self, request_id: &str, report: &str, platform: Option<&str>) -> Vec<String> {
        let _ = self.drain();
        let mut state = self.state();
        for line in platform.into_iter().flat_map(str::lines) {
            state.platform(line);
        }
        state.platform(&format!("END RequestId: {request_id}"));
        state.platform(&format!("REPORT RequestId: {request_id}\t{report}"));
        let mut lines = state.current.take().unwrap_or_default();
        let more = std::mem::take(&mut state.dropped);
        if more > 0 {
            lines.push(format!(
                "[todo-local: {more} more lines of this invocation are in its log file]"
            ));
        }
        lines
    }
}

impl State {
    fn bytes(&mut self, mut bytes: &[u8]) {
        while let Some(newline) = bytes.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut self.partial);
            line.extend_from_slice(&bytes[..newline]);
            for piece in line.chunks(MAX_LINE_BYTES) {
                self.line(piece);
            }
            bytes = &bytes[newline + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() > MAX_LINE_BYTES {
            let rest = self.partial.split_off(MAX_LINE_BYTES);
            let line = std::mem::replace(&mut self.partial, rest);
            self.line(&line);
        }
    }

    fn line(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches('\r');
        self.write(text);
        if let Some((function, Watch(watch))) = &self.watch {
            watch(function, text);
        }
        if let Some(lines) = self.current.as_mut() {
            // Past the limit, the embedded metrics are still kept: they say what it did.
            if lines.len() < MAX_LINES || text.contains("\"_aws\"") {
                lines.push(text.to_string());
            } else {
                self.dropped += 1;
            }
        }
    }

    /// A line of Lambda's own, in the file only.
    fn platform(&mut self, text: &str) {
        self.write(text);
    }

    fn write(&mut self, text: &str) {
        if let Some(file) = self.file.as_mut() {
            let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
            // A log that cannot be written must not stop the function it logs.
            let _ = file.write_all(format!("{now} {text}\n").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process's lines, in order, stdout and stderr together, reach the invocation running
    /// while they were written and the file; what comes between invocations, the file only.
    #[tokio::test]
    async fn lines_belong_to_the_invocation_they_were_written_during() {
        let dir = std::env::temp_dir().join(format!("todo-log-{}", uuid::Uuid::new_v4()));
        let path = file_of(&dir, "F");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let watched = Arc::clone(&seen);
        let watch = Watch(Arc::new(move |function: &str, line: &str| {
            watched.lock().unwrap().push(format!("{function}: {line}"));
        }));
        let (log, fd) = FunctionLog::open(Some(&path), "F", Some(watch)).unwrap();
        let mut out = std::fs::File::from(fd);
        writeln!(out, "starting").unwrap();
        log.begin("r1");
        out.write_all(b"one\ntw").unwrap();
        out.write_all(b"o\r\n").unwrap();
        let lines = log.end("r1", "Duration: 1.00 ms", None);
        assert_eq!(lines, ["one", "two"]);
        log.begin("r2");
        assert!(
            log.end("r2", "Duration: 1.00 ms", Some("Task timed out"))
                .is_empty()
        );
        writeln!(out, "unfinished").unwrap();
        write!(out, "no newline").unwrap();
        drop(out);
        while log.drain().is_err() {
            tokio::task::yield_now().await;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().map(|l| l.split_once(' ').unwrap().1).collect();
        assert_eq!(
            lines,
            [
                "starting",
                "START RequestId: r1 Version: $LATEST",
                "one",
                "two",
                "END RequestId: r1",
                "REPORT RequestId: r1\tDuration: 1.00 ms",
                "START RequestId: r2 Version: $LATEST",
                "Task timed out",
                "END RequestId: r2",
                "REPORT RequestId: r2\tDuration: 1.00 ms",
                "unfinished",
                "no newline",
            ]
        );
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            [
                "F: starting",
                "F: one",
                "F: two",
                "F: unfinished",
                "F: no newline"
            ],
            "the watcher is told each of the function's lines as it is read"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A flood is cut to what an invocation may keep (its metrics kept, and said so); a line
    /// with no end is cut to its limit.
    #[tokio::test]
    async fn an_invocation_keeps_a_bounded_number_of_bounded_lines() {
        let (log, fd) = FunctionLog::open(None, "F", None).unwrap();
        let mut out = std::fs::File::from(fd);
        log.begin("r");
        // Written from another thread while this one reads, as a process writes.
        tokio::task::spawn_blocking(move || {
            out.write_all(&vec![b'x'; MAX_LINE_BYTES + 5]).unwrap();
            out.write_all(b"\n").unwrap();
            for i in 0..MAX_LINES + 10 {
                writeln!(out, "line {i}").unwrap();
            }
            writeln!(out, r#"{{"_aws":{{}},"Applied":1}}"#).unwrap();
        })
        .await
        .unwrap();
        let lines = log.end("r", "", None);
        assert_eq!(lines.len(), MAX_LINES + 2);
        assert!(
            lines[MAX_LINES].contains("\"_aws\""),
            "the metrics are kept"
        );
        assert_eq!(
            lines[MAX_LINES + 1],
            "[todo-local: 12 more lines of this invocation are in its log file]"
        );
        assert_eq!(lines[0].len(), MAX_LINE_BYTES);
        assert_eq!((lines[1].as_str(), lines[2].as_str()), ("xxxxx", "line 0"));
    }
}
