//! What the operator commands (`ttl-archiver-redrive`, `ttl-archiver-restore`; feature
//! `operator`) share, so that a second command does not copy the first: the archive settings as
//! flags and variables and the output format (`settings`), the progress bar (`progress`), the
//! lines and the summary they print (`output`), and the start of a run and the exit statuses
//! (`session`).

pub mod output;
pub mod progress;
pub mod session;
pub mod settings;
