//! From a command line's DB to a storage: an engine address (a plain path is a redb file) or a
//! configuration file (`*.toml`, `*.json`).

use std::path::{Path, PathBuf};

use zerotable::Storage;
use zerotable::config::StorageConfig;
use zerotable::engines::EngineAddress;

use crate::output::Failure;

/// Opens a database that must exist already: read commands, `compact`, a copy's source. A
/// missing one is an error, and is not created.
pub fn existing(db: &str) -> Result<Storage, Failure> {
    if let Some(path) = location(db)?
        && !path.exists()
    {
        return Err(Failure::new(
            format!("cannot open {db}"),
            format!(
                "{} does not exist (only `copy` creates a database, as its destination)",
                path.display()
            ),
        ));
    }
    connect(db)
}

/// Opens a database, creating it if it is not there: a copy's destination.
pub fn or_create(db: &str) -> Result<Storage, Failure> {
    connect(db)
}

fn connect(db: &str) -> Result<Storage, Failure> {
    let opened = match config_file(db) {
        Some(path) => Storage::from_config_file(path),
        None => Storage::connect(db),
    };
    opened.map_err(|error| match &error {
        // These name the database themselves.
        zerotable::Error::Open { .. } | zerotable::Error::InvalidConfig { .. } => {
            Failure::new(crate::output::describe(&error), "")
        }
        _ => Failure::library(format!("cannot open {db}"), &error),
    })
}

/// The configuration file `db` names, if it names one.
fn config_file(db: &str) -> Option<&Path> {
    let path = Path::new(db);
    let is_config = !db.contains("://")
        && matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("toml" | "json")
        );
    is_config.then_some(path)
}

/// Where the engine `db` names keeps its files; `None` for one that keeps none (memory).
fn location(db: &str) -> Result<Option<PathBuf>, Failure> {
    let invalid = |error: zerotable::Error| Failure::new(crate::output::describe(&error), "");
    if let Some(file) = config_file(db) {
        let config = StorageConfig::load(file).map_err(invalid)?;
        let Some(path) = config.engine.path else {
            return Ok(None);
        };
        let base = file.parent().filter(|p| !p.as_os_str().is_empty());
        return Ok(Some(match base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        }));
    }
    let address = EngineAddress::parse(db).map_err(invalid)?;
    Ok((address.scheme != "memory" && !address.location.is_empty())
        .then(|| PathBuf::from(address.location)))
}
