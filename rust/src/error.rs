//! The one error type of the core. Verdicts about checked text or programs are data, never errors:
//! an `Error` means the checker itself could not do its job (bad test specification, the
//! sandbox could not start a process, an I/O failure).

use std::fmt;

/// A failure of the core itself.
#[derive(Debug)]
pub enum Error {
    /// The caller passed something the core cannot work with (e.g. malformed tests).
    InvalidInput(String),
    /// The sandbox could not set up or supervise a process.
    Sandbox(String),
    /// An operating-system error outside the checked program.
    Io(std::io::Error),
    /// The caller's stop flag was set: the work was abandoned and its processes killed.
    Stopped,
}

/// Result alias used throughout the core.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput(msg) => write!(f, "invalid input: {msg}"),
            Error::Sandbox(msg) => write!(f, "sandbox failure: {msg}"),
            Error::Io(err) => write!(f, "I/O error: {err}"),
            Error::Stopped => f.write_str("stopped"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Error::Io(err)
    }
}
