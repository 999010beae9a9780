//! A restore: the checks before any write, then the items selected (by key, or by a parallel
//! scan of the archive), each put back under its condition at the rate allowed, each result
//! printed as it ends.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};
use tokio::task::JoinSet;

use crate::restore::cli::Cli;
use crate::restore::item::{
    judge_live, restored, ArchiverAttributes, Expiry, Item, LiveItem, Restored,
};
use crate::restore::report::{ItemReport, JsonLine, Status, Totals};
use crate::restore::selection::{parse_key_file, DeletionWindow, Key, KeySchema};
use crate::restore::tables::{Tables, Written};
use crate::Config;

/// What the command line selected, checked against the archive's key schema.
#[derive(Debug, Clone)]
pub enum Selection {
    Keys(Vec<Key>),
    Scan {
        /// `--deleted-between`.
        window: Option<DeletionWindow>,
        segments: u32,
    },
}

/// One restore, ready to run: every check passed.
#[derive(Debug)]
pub struct Restore {
    tables: Tables,
    schema: KeySchema,
    names: ArchiverAttributes,
    expiry: Expiry,
    overwrite: bool,
    dry_run: bool,
    remove_from_archive: bool,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Items in flight per scan segment (or for the keys).
    concurrency: usize,
    /// What the operator should know before the first write: said on stderr, not refused.
    pub warnings: Vec<String>,
}

/// Everything that must hold before the first write; the error says what does not (exit 2).
pub async fn prepare(
    cli: &Cli,
    config: &Config,
    tables: Tables,
) -> Result<(Restore, Selection), String> {
    let archive = tables.archive_key_schema().await?;
    let source = tables.source_key_schema().await?;
    if archive != source {
        return Err(format!(
            "the key schemas differ: the archive's is {}, the source table's {}; nothing was written",
            archive.describe(),
            source.describe()
        ));
    }
    let mut warnings = Vec::new();
    let ttl_on = tables.source_ttl_attribute().await?;
    if let (Some(table), Some(setting)) = (&ttl_on, &config.ttl_attribute) {
        if table != setting {
            return Err(format!(
                "--ttl-attribute (TTL_ATTRIBUTE) names {setting}, but the source table's TTL \
                 attribute is {table}; nothing was written"
            ));
        }
    }
    let expiry =
        match (ttl_on, cli.expires_in, cli.no_expiry) {
            (Some(attribute), None, false) => {
                return Err(format!(
            "the source table has TTL on (attribute {attribute}): say when restored items expire, \
                 with --expires-in DURATION, or --no-expiry; nothing was written"
        ))
            }
            (Some(attribute), _, true) => Expiry::Never { attribute },
            (Some(attribute), Some(after), false) => Expiry::At {
                attribute,
                epoch_seconds: now() + after.as_secs(),
            },
            (None, Some(after), _) => match &config.ttl_attribute {
                // Named by hand, it must not be a key or one of the archiver's attributes: the
                // number would replace the item's key, or a stamp the function then refuses.
                Some(attribute)
                    if archive.names().any(|key| key == attribute)
                        || [
                            Some(&config.version_attribute),
                            config.archived_at_attribute.as_ref(),
                        ]
                        .contains(&Some(attribute))
                        || config
                            .archive_expiry
                            .as_ref()
                            .is_some_and(|e| &e.attribute == attribute) =>
                {
                    return Err(format!(
                        "--ttl-attribute (TTL_ATTRIBUTE) names {attribute}, a key attribute or one \
                         of the archiver's own: it cannot hold the expiry; nothing was written"
                    ))
                }
                Some(attribute) => {
                    let epoch_seconds = now() + after.as_secs();
                    warnings.push(format!(
                        "the source table has TTL off: restored items get {attribute} = \
                     {epoch_seconds} (epoch seconds), which deletes them only once TTL is on \
                     again with attribute {attribute}"
                    ));
                    Expiry::At {
                        attribute: attribute.clone(),
                        epoch_seconds,
                    }
                }
                None => return Err(
                    "the source table has TTL off, so it cannot say which attribute --expires-in \
                     sets: name it with --ttl-attribute NAME (or TTL_ATTRIBUTE), or leave \
                     --expires-in out; nothing was written"
                        .to_owned(),
                ),
            },
            (None, None, _) => Expiry::TtlOff,
        };
    let selection = select(cli, &archive)?;
    let restore = Restore {
        tables,
        schema: archive,
        names: ArchiverAttributes::from(config),
        expiry,
        overwrite: cli.overwrite,
        dry_run: cli.dry_run,
        remove_from_archive: cli.remove_from_archive,
        limiter: cli
            .max_writes_per_second
            .and_then(NonZeroU32::new)
            .map(|rate| RateLimiter::direct(Quota::per_second(rate))),
        concurrency: config.max_concurrency,
        warnings,
    };
    Ok((restore, selection))
}

fn select(cli: &Cli, schema: &KeySchema) -> Result<Selection, String> {
    if cli.all {
        return Ok(Selection::Scan {
            window: None,
            segments: cli.segments,
        });
    }
    if let Some(window) = &cli.deleted_between {
        let window = DeletionWindow::parse(&window[0], &window[1])
            .map_err(|err| format!("--deleted-between {err}"))?;
        return Ok(Selection::Scan {
            window: Some(window),
            segments: cli.segments,
        });
    }
    let mut keys = Vec::new();
    for text in &cli.keys {
        keys.push(
            schema
                .parse_key(text)
                .map_err(|err| format!("--key: {err}"))?,
        );
    }
    if let Some(path) = &cli.keys_file {
        let text = std::fs::read_to_string(path)
            .map_err(|err| format!("--keys-file {}: {err}", path.display()))?;
        keys.extend(
            parse_key_file(schema, &text)
                .map_err(|err| format!("--keys-file {}: {err}", path.display()))?,
        );
    }
    Ok(Selection::Keys(keys))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A line for the output: an item's report, or a scan that stopped.
enum Event {
    /// More items found (a scan's page).
    Listed(usize),
    Item(ItemReport),
    ScanStopped(String),
}

impl Restore {
    /// Restores the selection; each item's line is printed as it ends. Returns the totals.
    pub async fn run(self, selection: Selection, mut output: Output) -> Totals {
        let restore = Arc::new(self);
        let (events, mut received) = unbounded_channel();
        let mut workers = JoinSet::new();
        match selection {
            Selection::Keys(keys) => {
                output.lines.progress.listed(keys.len());
                workers.spawn(restore.clone().keys(keys, events));
            }
            Selection::Scan { window, segments } => {
                for segment in 0..segments {
                    workers.spawn(restore.clone().segment(
                        segment,
                        segments,
                        window,
                        events.clone(),
                    ));
                }
                drop(events);
            }
        }
        while let Some(event) = received.recv().await {
            match event {
                Event::Listed(items) => output.lines.progress.listed(items),
                Event::Item(report) => output.item(report),
                Event::ScanStopped(error) => output.scan_error(&error),
            }
        }
        while workers.join_next().await.is_some() {}
        output.finish()
    }

    async fn keys(self: Arc<Self>, keys: Vec<Key>, events: UnboundedSender<Event>) {
        let mut running = JoinSet::new();
        for key in keys {
            while running.len() >= self.concurrency {
                running.join_next().await;
            }
            let (restore, events) = (self.clone(), events.clone());
            running.spawn(async move {
                let report = match restore.tables.archived(&key).await {
                    Ok(Some(item)) => restore.item(item, None).await,
                    Ok(None) => ItemReport::new(&key, Status::NotInArchive),
                    Err(err) => ItemReport::failed(&key, format!("reading the archive: {err}")),
                };
                let _ = events.send(Event::Item(report));
            });
        }
        while running.join_next().await.is_some() {}
    }

    async fn segment(
        self: Arc<Self>,
        segment: u32,
        segments: u32,
        window: Option<DeletionWindow>,
        events: UnboundedSender<Event>,
    ) {
        let mut start = None;
        let mut running = JoinSet::new();
        loop {
            let page = self
                .tables
                .scan_page(
                    segment,
                    segments,
                    window.as_ref(),
                    &self.names.version,
                    start,
                )
                .await;
            let (items, next) = match page {
                Ok(page) => page,
                Err(err) => {
                    let _ = events.send(Event::ScanStopped(format!(
                        "scan segment {segment} of {segments}: {err}"
                    )));
                    break;
                }
            };
            let _ = events.send(Event::Listed(items.len()));
            for item in items {
                while running.len() >= self.concurrency {
                    running.join_next().await;
                }
                let (restore, events) = (self.clone(), events.clone());
                running.spawn(async move {
                    let _ = events.send(Event::Item(restore.item(item, window).await));
                });
            }
            start = next;
            if start.is_none() {
                break;
            }
        }
        while running.join_next().await.is_some() {}
    }

    /// Puts one archived item back, as the settings say. `window`: the item was found by a
    /// `--deleted-between` scan, which also returns the items whose deletion time it cannot read.
    async fn item(&self, archived: Item, window: Option<DeletionWindow>) -> ItemReport {
        let Some(key) = self.schema.key_of(&archived) else {
            return ItemReport::failed(&Key::new(), "an archive item without its key".to_owned());
        };
        let Restored {
            item,
            version,
            stored_version,
            version_removed,
        } = match restored(archived, &self.names, &self.expiry) {
            Ok(restored) => restored,
            Err(why) => return ItemReport::failed(&key, why),
        };
        match (window, version) {
            (Some(window), Some(version)) if !window.contains(&version) => {
                return ItemReport::failed(
                    &key,
                    "the archive returned an item outside the window; nothing written".to_owned(),
                )
            }
            (Some(_), None) => return ItemReport::new(&key, Status::UnknownDeletionTime),
            _ => {}
        }
        if self.dry_run {
            let live = match self.tables.live_item(&key).await {
                Ok(live) => live,
                Err(err) => {
                    return ItemReport::failed(&key, format!("reading the source table: {err}"))
                }
            };
            let status =
                match judge_live(live.as_ref(), &self.names.version, self.overwrite, version) {
                    LiveItem::Absent => Status::WouldRestore,
                    LiveItem::Replaced => Status::WouldReplace,
                    LiveItem::LeftAlone => Status::WouldLeavePresent,
                    LiveItem::LeftAloneNewer => Status::WouldLeavePresentNewer,
                };
            let mut report = ItemReport::new(&key, status);
            report.version_removed =
                version_removed && matches!(status, Status::WouldRestore | Status::WouldReplace);
            return report;
        }
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let partition_key = &self.schema.0[0].0;
        let overwrite = self
            .overwrite
            .then_some((self.names.version.as_str(), version));
        let mut report = match self
            .tables
            .put_into_source(item, partition_key, overwrite)
            .await
        {
            Ok(Written::Done) => ItemReport::new(&key, Status::Restored),
            Ok(Written::Refused) if self.overwrite => ItemReport::new(&key, Status::PresentNewer),
            Ok(Written::Refused) => ItemReport::new(&key, Status::Present),
            Err(err) => {
                return ItemReport::failed(&key, format!("writing the source table: {err}"))
            }
        };
        report.version_removed = version_removed && report.status == Status::Restored;
        if self.remove_from_archive && report.status == Status::Restored {
            match self
                .tables
                .remove_from_archive(key.clone(), &self.names.version, stored_version)
                .await
            {
                Ok(Written::Done) => report.removed_from_archive = true,
                Ok(Written::Refused) => {
                    report.error = Some(
                        "the archived copy changed after it was read (a newer deletion archived \
                         meanwhile): kept in the archive"
                            .to_owned(),
                    )
                }
                Err(err) => report.error = Some(format!("removing it from the archive: {err}")),
            }
        }
        report
    }
}

/// The restore's output: a line per item, and the scans that stopped.
pub type Output = crate::operator::output::Output<Totals>;

impl Output {
    fn item(&mut self, report: ItemReport) {
        self.totals.add(&report);
        self.lines.progress.finished(format!(
            "{} restored, {} failed",
            self.totals.restored, self.totals.failed
        ));
        self.lines
            .print(|| report.line(), || JsonLine::Item(&report).to_line());
    }

    fn scan_error(&mut self, error: &str) {
        self.totals.scan_errors += 1;
        self.lines.print(
            || format!("error: {error}"),
            || JsonLine::ScanError { error }.to_line(),
        );
    }
}
