//! mtpctl's errors: each is printed as one line on stderr and maps to a documented exit code.

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the server refused the request (403, 404, 409, 422, 429, 5xx) or another failure.
pub const EXIT_API: u8 = 1;
/// Exit code: bad usage, a bad input file or a bad configuration file.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: not authenticated (no credentials, 401, login or token refresh failed).
pub const EXIT_AUTH: u8 = 3;
/// Exit code: the server (or the IdP) could not be reached.
pub const EXIT_UNREACHABLE: u8 = 4;

/// Everything that can go wrong in mtpctl.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags or arguments.
    #[error("{0}")]
    Usage(String),
    /// An input file that cannot be read or parsed (the message names the file and line).
    #[error("{0}")]
    Input(String),
    /// The configuration file cannot be read, parsed or written.
    #[error("{0}")]
    Config(String),
    /// No credentials for the context.
    #[error("{}", not_logged_in(context.as_deref()))]
    NotLoggedIn {
        /// The context, when there is one.
        context: Option<String>,
    },
    /// `--context` names a context that does not exist.
    #[error("context {name:?} does not exist (known: {}); run `mtpctl login --server URL --context {name}`", if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    NoContext {
        /// The name asked for.
        name: String,
        /// The contexts that exist.
        known: Vec<String>,
    },
    /// Login or token refresh failed at the IdP.
    #[error("{0}")]
    Auth(String),
    /// The API server answered with an error status.
    #[error("{line}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The whole message, one line.
        line: String,
    },
    /// The server or IdP could not be reached.
    #[error("cannot reach {what} at {url}: {reason}; {hint}")]
    Unreachable {
        /// "the mtp API server" or "the identity provider".
        what: &'static str,
        /// The URL tried.
        url: String,
        /// What failed (connection refused, timeout, TLS, DNS).
        reason: String,
        /// What to check.
        hint: &'static str,
    },
    /// Anything else (a local I/O error, an unexpected answer).
    #[error("{0}")]
    Other(String),
}

fn not_logged_in(context: Option<&str>) -> String {
    match context {
        Some(c) => format!(
            "not logged in to context {c:?}: run `mtpctl login` (or set MTP_API_KEY)"
        ),
        None => "no current context: run `mtpctl login --server URL` (or set MTP_SERVER and MTP_API_KEY)"
            .to_string(),
    }
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Input(_) | CliError::Config(_) => EXIT_USAGE,
            CliError::NoContext { .. } => EXIT_USAGE,
            CliError::NotLoggedIn { .. } | CliError::Auth(_) => EXIT_AUTH,
            CliError::Api { status: 401, .. } => EXIT_AUTH,
            CliError::Api { .. } | CliError::Other(_) => EXIT_API,
            CliError::Unreachable { .. } => EXIT_UNREACHABLE,
        }
    }
}

/// What to check when the API server cannot be reached.
pub const SERVER_HINT: &str = "check the server URL (`mtpctl config get-contexts`), that mtp-apiserver is running and listening there, and your network, proxy and TLS settings";
/// What to check when the IdP cannot be reached.
pub const IDP_HINT: &str =
    "check the issuer URL (--issuer or the server's /api/v1/auth-config) and your network";

/// Describes a reqwest transport error in a few words, without the URL (which the caller names).
pub fn describe_transport(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut cause: Option<&dyn std::error::Error> = e.source();
    let mut deepest = None;
    while let Some(c) = cause {
        deepest = Some(c.to_string());
        cause = c.source();
    }
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    match deepest {
        Some(d) if !d.is_empty() => format!("{what} ({d})"),
        _ => what,
    }
}
