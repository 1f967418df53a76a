//! Notices to the service manager, as `sd_notify(3)` sends them: a datagram to the unix
//! socket named by `$NOTIFY_SOCKET`. With `Type=notify`, systemd counts `serve` as
//! started only once it says `READY=1` (listening, every route published), so units
//! ordered after it never meet a server still reading its posts. Without the variable
//! (not run by systemd, or another `Type=`) nothing is sent.

use std::io;

/// The variable systemd sets for a `Type=notify` service.
pub const SOCKET_VARIABLE: &str = "NOTIFY_SOCKET";

/// What the service is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Listening, and every route published (at start, and again after a reload).
    Ready,
    /// Reading the config again (SIGHUP); `Ready` follows.
    Reloading,
    /// Shutting down: no new connections.
    Stopping,
}

impl Notice {
    /// The datagram for this notice. `RELOADING=1` carries the monotonic clock, which
    /// systemd 253 and later ask for to tell this reload from an earlier one.
    fn message(self) -> String {
        match self {
            Notice::Ready => "READY=1".into(),
            Notice::Stopping => "STOPPING=1".into(),
            Notice::Reloading => match monotonic_usec() {
                Some(usec) => format!("RELOADING=1\nMONOTONIC_USEC={usec}"),
                None => "RELOADING=1".into(),
            },
        }
    }
}

/// Tells the service manager `notice`, if one listens; a failure is logged, never fatal:
/// the daemon serves the same either way.
pub fn notify(notice: Notice) {
    let Some(socket) = std::env::var_os(SOCKET_VARIABLE) else {
        return;
    };
    if let Err(err) = send(&socket, &notice.message()) {
        tracing::warn!(
            "cannot tell the service manager {notice:?} through ${SOCKET_VARIABLE} ({}): {err}; with Type=notify, systemd may think the service failed to start: check the unit's NotifyAccess=",
            socket.to_string_lossy()
        );
    }
}

/// Sends `message` to the socket at `socket`: a path, or an abstract name when it starts
/// with `@`.
pub fn send(socket: &std::ffi::OsStr, message: &str) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::net::UnixDatagram;
        let bytes = socket.as_bytes();
        let datagram = UnixDatagram::unbound()?;
        match bytes.split_first() {
            Some((b'@', name)) => {
                #[cfg(any(target_os = "linux", target_os = "android"))]
                {
                    #[cfg(target_os = "android")]
                    use std::os::android::net::SocketAddrExt;
                    #[cfg(target_os = "linux")]
                    use std::os::linux::net::SocketAddrExt;
                    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                    datagram.send_to_addr(message.as_bytes(), &addr)?;
                }
                #[cfg(not(any(target_os = "linux", target_os = "android")))]
                {
                    let _ = name;
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "abstract socket names exist on Linux only",
                    ));
                }
            }
            Some((b'/', _)) => {
                datagram.send_to(message.as_bytes(), std::path::Path::new(socket))?;
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not an absolute path or an abstract name (@…)",
                ))
            }
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        let _ = (socket, message);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "unix sockets only",
        ))
    }
}

/// `CLOCK_MONOTONIC` in microseconds, the clock systemd compares reloads by.
fn monotonic_usec() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec into the struct it is handed.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
            return None;
        }
        let secs = u64::try_from(now.tv_sec).ok()?;
        let nanos = u64::try_from(now.tv_nsec).ok()?;
        Some(secs * 1_000_000 + nanos / 1000)
    }
    #[cfg(not(unix))]
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn a_notice_reaches_a_socket_named_by_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), &Notice::Ready.message()).unwrap();
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_notice_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("dropfeed-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        let socket = format!("@{name}");
        send(std::ffi::OsStr::new(&socket), &Notice::Stopping.message()).unwrap();
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let message = Notice::Reloading.message();
        let usec = message
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap();
        assert!(usec.parse::<u64>().unwrap() > 0);
    }

    #[test]
    fn a_relative_socket_name_is_refused() {
        let err = send(std::ffi::OsStr::new("notify"), "READY=1").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
