//! Configuration files (feature `config`): which engine, where its files are, and its options —
//! what an engine address says (`lmdb://data/app?map_size=8GiB&durability=none`), as one serde
//! struct tree read from TOML or JSON.
//!
//! ```toml
//! [engine]
//! kind = "lmdb"          # redb, memory, fjall, lmdb, sqlite or rocksdb
//! path = "data/app"      # relative to the configuration file's folder
//!
//! [engine.options]       # the options of the engine's address, by the same names
//! map_size = "8GiB"
//! durability = "none"
//! ```
//!
//! The same in JSON: `{"engine": {"kind": "lmdb", "path": "data/app", "options": {"map_size":
//! "8GiB", "durability": "none"}}}`.
//!
//! # Fields
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `engine` | table, required | the engine |
//! | `engine.kind` | string, required | the engine: an address's scheme (`redb`, `memory`, `fjall`, `lmdb`, `sqlite`, `rocksdb`) |
//! | `engine.path` | string | where the engine keeps its files (required by all but `memory`); a relative path is taken from the configuration file's folder ([`Storage::from_config_file`]) or the current directory ([`Storage::from_config`]) |
//! | `engine.options` | table | the engine's options, named as in its address's query and with the same values; a value may be a string (`"8GiB"`), a whole number (`4096`) or a boolean |
//!
//! The options each engine takes are listed in its options type ([`RedbOptions`],
//! `FjallOptions`, `LmdbOptions`, `SqliteOptions`, `RocksDbOptions`). One parser reads them for
//! addresses and configurations alike ([`EngineOptions`]), so a value means the same in both.
//!
//! # Errors
//!
//! Everything wrong is an [`Error::InvalidConfig`] whose `origin` is the file (or `"config"`
//! for a value built in code) and whose `option` is the field at fault, dotted
//! (`engine.options.map_size`): unknown fields (at every level), wrong types, values that do not
//! parse, a missing `kind` or `path`, an engine that is not compiled in, TOML or JSON syntax
//! (with the line and column). Nothing is opened or created before the whole configuration is
//! checked.
//!
//! [`RedbOptions`]: crate::RedbOptions
//! [`EngineOptions`]: crate::engines::EngineOptions

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::engines::{EngineAddress, EngineOptions};
use crate::error::{Error, Result};
use crate::layers::LayerSpec;
use crate::storage::Storage;

/// A whole configuration: the engine to open.
///
/// ```
/// use zerotable::config::StorageConfig;
///
/// let config = StorageConfig::from_toml("app.toml", r#"
///     [engine]
///     kind = "memory"
/// "#)?;
/// let storage = zerotable::Storage::from_config(&config)?;
/// assert_eq!(storage.engine().name(), "memory");
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// The engine, where its files are, and its options.
    pub engine: EngineConfig,
    /// Layers over the engine, outermost first ([`crate::layers`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerConfig>,
}

/// One entry of a configuration's `layers` list: the layer's `kind` and its options, named as
/// in an address (see [`crate::layers`]).
///
/// ```
/// use zerotable::config::StorageConfig;
///
/// let config = StorageConfig::from_toml("app.toml", r#"
///     engine = { kind = "memory" }
///     layers = [{ kind = "metrics" }, { kind = "cache", read_cache = "16MiB" }]
/// "#)?;
/// let storage = zerotable::Storage::from_config(&config)?;
/// assert!(storage.layer::<zerotable::layers::CachedEngine>().is_some());
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerConfig {
    /// The layer: `metrics`, `cache`, `compression` or `encryption`.
    pub kind: String,
    /// Its options (`read_cache`, `value_compression`, `encryption_key_file`, …).
    #[serde(flatten)]
    pub options: BTreeMap<String, OptionSetting>,
}

impl LayerConfig {
    /// The typed layer, checked; a relative key file is taken from `base`.
    fn spec(&self, origin: &str, at: usize, base: Option<&Path>) -> Result<LayerSpec> {
        let mut options = EngineOptions::in_field(origin, format!("layers[{at}]."));
        for (name, value) in &self.options {
            let mut text = value.as_text();
            if name.ends_with("_key_file")
                && let Some(base) = base
                && Path::new(&text).is_relative()
            {
                text = base.join(&text).to_string_lossy().into_owned();
            }
            options.insert(name.as_str(), text)?;
        }
        let spec = LayerSpec::from_options(&self.kind, &mut options)?;
        options.finish()?;
        Ok(spec)
    }
}

/// The `engine` table of a configuration.
///
/// ```
/// use zerotable::config::EngineConfig;
///
/// let engine = EngineConfig::from_address("lmdb://data/app?map_size=8GiB")?;
/// assert_eq!(engine.kind, "lmdb");
/// assert_eq!(engine.path.as_deref(), Some(std::path::Path::new("data/app")));
/// assert_eq!(engine.address(), "lmdb://data/app?map_size=8GiB");
/// # Ok::<(), zerotable::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// The engine: `redb`, `memory`, `fjall`, `lmdb`, `sqlite` or `rocksdb` (an address's
    /// scheme).
    pub kind: String,
    /// Where the engine keeps its files; `None` only for `memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The engine's options, by the names of its address's query.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, OptionSetting>,
}

/// The value of one engine option in a configuration: a string, a whole number or a boolean.
/// The engine reads each as the text an address would carry (`4096`, `true`, `8GiB`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionSetting {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Integer(i128),
    /// Anything else, as text (`"8GiB"`, `"none"`).
    Text(String),
}

impl OptionSetting {
    /// The value as the text of an address's query.
    pub fn as_text(&self) -> String {
        match self {
            OptionSetting::Bool(value) => value.to_string(),
            OptionSetting::Integer(value) => value.to_string(),
            OptionSetting::Text(value) => value.clone(),
        }
    }
}

impl Serialize for OptionSetting {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            OptionSetting::Bool(value) => serializer.serialize_bool(*value),
            OptionSetting::Integer(value) => match i64::try_from(*value) {
                Ok(small) => serializer.serialize_i64(small),
                Err(_) => serializer.serialize_str(&value.to_string()),
            },
            OptionSetting::Text(value) => serializer.serialize_str(value),
        }
    }
}

impl<'de> Deserialize<'de> for OptionSetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Setting;

        impl Visitor<'_> for Setting {
            type Value = OptionSetting;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a whole number or true/false")
            }

            fn visit_bool<E: de::Error>(self, value: bool) -> std::result::Result<Self::Value, E> {
                Ok(OptionSetting::Bool(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> std::result::Result<Self::Value, E> {
                Ok(OptionSetting::Integer(value.into()))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> std::result::Result<Self::Value, E> {
                Ok(OptionSetting::Integer(value.into()))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> std::result::Result<Self::Value, E> {
                Ok(OptionSetting::Text(value.to_owned()))
            }
        }

        deserializer.deserialize_any(Setting)
    }
}

/// Where a value built in code "comes from", in errors.
const IN_CODE: &str = "config";

impl StorageConfig {
    /// Reads a configuration file: TOML if its name ends in `.toml`, JSON if in `.json`.
    /// Relative paths in it stay as written; [`Storage::from_config_file`] takes them from the
    /// file's folder.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let invalid = |problem: String| Error::InvalidConfig {
            origin: origin.clone(),
            option: None,
            problem,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|error| invalid(format!("cannot read the file: {error}")))?;
        match path.extension().and_then(|extension| extension.to_str()) {
            Some("toml") => Self::from_toml(&origin, &text),
            Some("json") => Self::from_json(&origin, &text),
            _ => Err(invalid(
                "unknown format: name the file *.toml or *.json".to_owned(),
            )),
        }
    }

    /// Parses TOML; `origin` names the text in errors (a file name).
    pub fn from_toml(origin: &str, text: &str) -> Result<Self> {
        let document = toml::Deserializer::parse(text)
            .map_err(|error| syntax_error(origin, text, error.message(), error.span()))?;
        serde_path_to_error::deserialize(document).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            field_error(origin, text, &path, inner.message(), inner.span())
        })
    }

    /// Parses JSON; `origin` names the text in errors (a file name).
    pub fn from_json(origin: &str, text: &str) -> Result<Self> {
        let mut document = serde_json::Deserializer::from_str(text);
        let parsed: Self = serde_path_to_error::deserialize(&mut document).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let at = format!("line {}, column {}", inner.line(), inner.column());
            let message = strip_json_position(&inner.to_string());
            if inner.is_syntax() || inner.is_eof() || path == "." {
                invalid(origin, None, format!("{message} (at {at})"))
            } else {
                invalid(origin, Some(path), format!("{message} (at {at})"))
            }
        })?;
        document
            .end()
            .map_err(|error| invalid(origin, None, error.to_string()))?;
        Ok(parsed)
    }

    /// The configuration as TOML.
    ///
    /// ```
    /// use zerotable::config::{EngineConfig, StorageConfig};
    ///
    /// let config = StorageConfig {
    ///     engine: EngineConfig::from_address("fjall://data/app?durability=none")?,
    ///     layers: Vec::new(),
    /// };
    /// let text = config.to_toml();
    /// assert!(text.contains("kind = \"fjall\""), "{text}");
    /// assert_eq!(StorageConfig::from_toml("again", &text)?, config);
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|error| unreachable!("a configuration always serializes: {error}"))
    }

    /// Opens the storage this configuration describes; `origin` names it in errors and `base`
    /// is the folder relative paths start from (none: the current directory).
    pub(crate) fn open(&self, origin: &str, base: Option<&Path>) -> Result<Storage> {
        let address = self.engine.to_address(origin, base)?;
        let stack = (self.layers.iter().enumerate())
            .map(|(at, layer)| layer.spec(origin, at, base))
            .collect::<Result<Vec<_>>>()?;
        let storage = crate::engines::open_address(address)?;
        if stack.is_empty() {
            return Ok(storage);
        }
        Ok(Storage::from_arc(crate::layers::wrap(
            &stack,
            std::sync::Arc::clone(storage.engine()),
        )))
    }
}

impl EngineConfig {
    /// The engine an address names, as a configuration (the query's options become text
    /// settings).
    pub fn from_address(address: &str) -> Result<Self> {
        let parsed = EngineAddress::parse(address)?;
        let options = parsed
            .options
            .settings()
            .map(|(name, value)| (name.to_owned(), OptionSetting::Text(value.to_owned())))
            .collect();
        Ok(EngineConfig {
            path: (!parsed.location.is_empty()).then(|| PathBuf::from(&parsed.location)),
            kind: parsed.scheme,
            options,
        })
    }

    /// The address naming the same engine, path and options (`kind://path?name=value&…`).
    pub fn address(&self) -> String {
        let mut address = format!("{}://", self.kind);
        if let Some(path) = &self.path {
            address.push_str(&percent_encode(&path.to_string_lossy(), "%?#&= "));
        }
        for (index, (name, value)) in self.options.iter().enumerate() {
            address.push(if index == 0 { '?' } else { '&' });
            address.push_str(&percent_encode(name, "%?#&= "));
            address.push('=');
            address.push_str(&percent_encode(&value.as_text(), "%?#&= "));
        }
        address
    }

    /// The [`EngineAddress`] of this configuration, its path taken from `base` when relative.
    fn to_address(&self, origin: &str, base: Option<&Path>) -> Result<EngineAddress> {
        let mut options = EngineOptions::in_field(origin, "engine.options.");
        for (name, value) in &self.options {
            options.insert(name.as_str(), value.as_text())?;
        }
        let location = match &self.path {
            None => String::new(),
            Some(path) => {
                let path = match base {
                    Some(base) if path.is_relative() => base.join(path),
                    _ => path.clone(),
                };
                path.into_os_string().into_string().map_err(|path| {
                    invalid(
                        origin,
                        Some("engine.path".to_owned()),
                        format!("{path:?} is not UTF-8"),
                    )
                })?
            }
        };
        if self.kind.is_empty() {
            return Err(invalid(
                origin,
                Some("engine.kind".to_owned()),
                format!(
                    "empty: name an engine ({})",
                    crate::engines::SCHEMES.join(", ")
                ),
            ));
        }
        Ok(EngineAddress {
            scheme: self.kind.to_ascii_lowercase(),
            location,
            options,
        })
    }
}

impl Storage {
    /// Opens the storage a configuration describes (see [`config`](crate::config)); relative
    /// paths are taken from the current directory.
    ///
    /// ```
    /// use zerotable::config::{EngineConfig, StorageConfig};
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let config = StorageConfig {
    ///     engine: EngineConfig {
    ///         kind: "redb".into(),
    ///         path: Some(dir.path().join("app.redb")),
    ///         options: [("durability".into(), zerotable::config::OptionSetting::Text("none".into()))]
    ///             .into_iter()
    ///             .collect(),
    ///     },
    ///     layers: Vec::new(),
    /// };
    /// let storage = zerotable::Storage::from_config(&config)?;
    /// assert_eq!(storage.engine().name(), "redb");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn from_config(config: &StorageConfig) -> Result<Storage> {
        config.open(IN_CODE, None)
    }

    /// Reads a configuration file (`*.toml` or `*.json`, see [`config`](crate::config)) and
    /// opens the storage it describes; relative paths in it are taken from the file's folder.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("app.toml");
    /// std::fs::write(&file, "[engine]\nkind = \"redb\"\npath = \"data/app.redb\"\n").unwrap();
    /// # std::fs::create_dir(dir.path().join("data")).unwrap();
    /// let storage = zerotable::Storage::from_config_file(&file)?;
    /// assert!(dir.path().join("data/app.redb").exists());
    ///
    /// std::fs::write(&file, "[engine]\nkind = \"redb\"\npth = \"app.redb\"\n").unwrap();
    /// let err = zerotable::Storage::from_config_file(&file).unwrap_err().to_string();
    /// assert!(err.contains("unknown field `pth`"), "{err}");
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Storage> {
        let path = path.as_ref();
        let config = StorageConfig::load(path)?;
        let base = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty());
        config.open(&path.display().to_string(), base)
    }
}

fn invalid(origin: &str, option: Option<String>, problem: String) -> Error {
    Error::InvalidConfig {
        origin: origin.to_owned(),
        option,
        problem,
    }
}

/// "line L, column C" of byte `offset` in `text`.
fn position(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    format!("line {line}, column {column}")
}

/// A TOML syntax error, in one line with its position.
fn syntax_error(
    origin: &str,
    text: &str,
    message: &str,
    span: Option<std::ops::Range<usize>>,
) -> Error {
    let message = message.trim().replace('\n', "; ");
    match span {
        Some(span) => invalid(
            origin,
            None,
            format!("{message} (at {})", position(text, span.start)),
        ),
        None => invalid(origin, None, message),
    }
}

/// A TOML error about a field (`path` as serde_path_to_error writes it, `.` for the root).
fn field_error(
    origin: &str,
    text: &str,
    path: &str,
    message: &str,
    span: Option<std::ops::Range<usize>>,
) -> Error {
    if path == "." {
        return syntax_error(origin, text, message, span);
    }
    let message = message.trim().replace('\n', "; ");
    let message = match span {
        Some(span) => format!("{message} (at {})", position(text, span.start)),
        None => message,
    };
    invalid(origin, Some(path.to_owned()), message)
}

/// serde_json's message without its trailing " at line L column C" (given separately).
fn strip_json_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// `text` with the characters of `special` (and controls) percent-encoded.
fn percent_encode(text: &str, special: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if special.contains(c) || c.is_control() {
            let mut buffer = [0; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}
