//! Engine addresses: `scheme://location?option=value&…`, or a plain path (redb).
//!
//! The scheme picks the engine (the list is [`SCHEMES`](super::SCHEMES)); the location is a
//! path, relative (`fjall://data/app`) or absolute (`fjall:///var/lib/app`), percent-decoded;
//! the query holds the engine's options ([`EngineOptions`]). A string without `://` is a path to
//! a redb file, taken as it is (no options, no decoding).

use super::options::{EngineOptions, percent_decode};
use crate::error::{Error, Result};

/// A parsed engine address.
#[derive(Clone, Debug)]
pub struct EngineAddress {
    /// The engine's scheme (`redb` for a plain path).
    pub scheme: String,
    /// The location: a path, or empty (`memory://`).
    pub location: String,
    /// The options of the query.
    pub options: EngineOptions,
}

impl EngineAddress {
    /// Parses `address`. Only its syntax is checked here: whether the scheme is known and the
    /// options valid is the engine's business.
    ///
    /// ```
    /// use zerotable::engines::EngineAddress;
    ///
    /// let address = EngineAddress::parse("lmdb://data/app?map_size=8GiB")?;
    /// assert_eq!((address.scheme.as_str(), address.location.as_str()), ("lmdb", "data/app"));
    /// let address = EngineAddress::parse("fjall:///var/lib/my%20app")?;
    /// assert_eq!(address.location, "/var/lib/my app");
    /// let address = EngineAddress::parse("data/app.redb")?;
    /// assert_eq!((address.scheme.as_str(), address.location.as_str()), ("redb", "data/app.redb"));
    /// # Ok::<(), zerotable::Error>(())
    /// ```
    pub fn parse(address: &str) -> Result<Self> {
        let origin = redacted(address);
        let invalid = |problem: String| Error::InvalidConfig {
            origin: origin.clone(),
            option: None,
            problem,
        };
        let Some((scheme, rest)) = address.split_once("://") else {
            if address.is_empty() {
                return Err(invalid(
                    "empty address: give a path (a redb file) or scheme://path".to_owned(),
                ));
            }
            return Ok(EngineAddress {
                scheme: "redb".to_owned(),
                location: address.to_owned(),
                options: EngineOptions::new(origin.clone()),
            });
        };
        let valid_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !valid_scheme {
            return Err(invalid(format!(
                "{scheme:?} is not a scheme: write scheme://path with a scheme such as redb, \
                 fjall or lmdb"
            )));
        }
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let location = percent_decode(location).ok_or_else(|| {
            invalid(format!(
                "the location {location:?} is not valid percent-encoded UTF-8"
            ))
        })?;
        Ok(EngineAddress {
            scheme: scheme.to_ascii_lowercase(),
            location,
            options: EngineOptions::from_query(origin.clone(), query)?,
        })
    }

    /// The location as a path, for engines that keep files; an empty one is an error.
    pub fn path(&self) -> Result<&std::path::Path> {
        if self.location.is_empty() {
            return Err(self.options.invalid(
                None,
                format!(
                    "no path: write {}://relative/path or {}:///absolute/path",
                    self.scheme, self.scheme
                ),
            ));
        }
        Ok(std::path::Path::new(&self.location))
    }
}

/// Option names whose values are secrets: an address that carries one (which is refused) is
/// never repeated with it in an error.
const SECRET_OPTIONS: &[&str] = &["encryption_key"];

/// `address` with the values of [`SECRET_OPTIONS`] replaced by `<redacted>`.
fn redacted(address: &str) -> String {
    let Some((head, query)) = address.split_once('?') else {
        return address.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_OPTIONS.contains(&name) => format!("{name}=<redacted>"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{head}?{}", pairs.join("&"))
}
