//! How the process ends when the Lambda Runtime API goes away.
//!
//! An emulator (`sam local invoke`, `cargo lambda watch`) stops the function's container or
//! process once it has the answer, which closes the connection on which the runtime waits for
//! the next event; lambda_runtime then returns that as an error and the process would print
//! `Error: ... IncompleteMessage`. Lambda itself never does this: it freezes or kills the
//! process. So a closed connection after at least one invocation is a shutdown, not a fault.
//! Anything else stays an error: a Runtime API that cannot be reached before the first
//! invocation (a wrong address), or any other failure. A response that could not be posted is
//! logged at ERROR by lambda_runtime itself, whatever the process does next.

use std::error::Error;
use std::io::ErrorKind;

/// Whether `err` (or a cause of it) is the Runtime API's connection being closed or refused.
pub fn is_connection_closed(err: &(dyn Error + 'static)) -> bool {
    let mut cause: Option<&(dyn Error + 'static)> = Some(err);
    while let Some(current) = cause {
        if let Some(hyper) = current.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled() {
                return true;
            }
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::ConnectionRefused
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
            ) {
                return true;
            }
        }
        cause = current.source();
    }
    false
}

/// The process's result once the runtime stops: a closed Runtime API after `invocations > 0`
/// ends quietly (one INFO line); every other error is returned as it is.
pub fn exit_result(
    result: Result<(), lambda_runtime::Error>,
    invocations: u64,
) -> Result<(), lambda_runtime::Error> {
    match result {
        Err(err) if invocations > 0 && is_connection_closed(err.as_ref()) => {
            tracing::info!(
                invocations,
                "the Runtime API closed the connection: the environment is shutting down"
            );
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("sending the request failed")]
    struct Wrapper(#[source] std::io::Error);

    fn closed() -> lambda_runtime::Error {
        Box::new(Wrapper(std::io::Error::from(ErrorKind::ConnectionReset)))
    }

    #[test]
    fn a_closed_connection_after_an_invocation_is_a_shutdown() {
        assert!(is_connection_closed(closed().as_ref()));
        assert!(exit_result(Err(closed()), 1).is_ok());
    }

    #[test]
    fn before_the_first_invocation_it_stays_an_error() {
        assert!(exit_result(Err(closed()), 0).is_err());
    }

    #[test]
    fn other_errors_stay_errors() {
        let other: lambda_runtime::Error =
            Box::new(Wrapper(std::io::Error::from(ErrorKind::InvalidData)));
        assert!(!is_connection_closed(other.as_ref()));
        assert!(exit_result(Err(other), 3).is_err());
        assert!(exit_result(Err("no request id".into()), 3).is_err());
    }
}
