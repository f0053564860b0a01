//! The words the bot sends visitors, from Project Fluent message catalogs (`.ftl`), in the
//! visitor's language.
//!
//! English, Dutch and Arabic ship inside the binary (`i18n/bot/*.ftl`); a help line adds a
//! language with a file `<tag>.ftl` in `visitors.catalogs` (one named like a shipped language
//! replaces it). Every catalog must parse and hold every message English has; [`Catalogs::load`]
//! says which file, line and key when one does not. Plurals follow each language's CLDR rules
//! through Fluent's selectors.
//!
//! [`Catalogs`] are loaded once by the driver (or `check-config`) and lent to the core through its
//! settings: the core never reads a file. A [`Words`] is one language of them, cheap to clone, and
//! what the protocol speaks with.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The catalogs that ship with the bot: (language tag, file name, text).
pub const SHIPPED: [(&str, &str, &str); 3] = [
    ("en", "en.ftl", include_str!("../i18n/bot/en.ftl")),
    ("nl", "nl.ftl", include_str!("../i18n/bot/nl.ftl")),
    ("ar", "ar.ftl", include_str!("../i18n/bot/ar.ftl")),
];

/// One language among [`Catalogs`] (an index, valid for the catalogs that gave it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lang(usize);

/// A catalog that cannot be used: which file, where, which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {key}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct CatalogError {
    /// The catalog file (or the directory).
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The message key, or `(file)`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

struct Catalog {
    tag: String,
    id: LanguageIdentifier,
    bundle: FluentBundle<FluentResource>,
}

/// Every language the bot speaks to visitors, and the help line's default.
pub struct Catalogs {
    catalogs: Vec<Catalog>,
    default: Lang,
}

impl fmt::Debug for Catalogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalogs")
            .field("languages", &self.tags())
            .field("default", &self.catalogs[self.default.0].tag)
            .finish()
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The message keys of `text` with their lines (attributes and terms aside).
fn keys(text: &str) -> Vec<(String, usize)> {
    let mut offset = 0;
    let mut keys = Vec::new();
    for line in text.split_inclusive('\n') {
        let head: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        if !head.is_empty()
            && head.starts_with(|c: char| c.is_ascii_alphabetic())
            && line[head.len()..].trim_start().starts_with('=')
        {
            keys.push((head, line_at(text, offset)));
        }
        offset += line.len();
    }
    keys
}

impl Catalog {
    fn parse(tag: &str, file: &str, text: &str) -> Result<Catalog, CatalogError> {
        let error = |line, key: &str, message: String| CatalogError {
            file: file.to_string(),
            line,
            key: key.to_string(),
            message,
        };
        let id: LanguageIdentifier = tag.parse().map_err(|_| {
            error(
                None,
                "(file)",
                format!("{tag:?} is not a language tag; name the file like de.ftl or pt-BR.ftl"),
            )
        })?;
        let resource = FluentResource::try_new(text.to_string()).map_err(|(_, errors)| {
            // The message that does not parse: the first key of the part the parser could not
            // read (it notices the fault there or a little after), else the line of the fault.
            let first = &errors[0];
            let at = line_at(text, first.pos.start);
            let from = first.slice.as_ref().map_or(at, |s| line_at(text, s.start));
            let (key, line) = keys(text)
                .into_iter()
                .find(|(_, l)| (from..=at).contains(l))
                .or_else(|| keys(text).into_iter().take_while(|(_, l)| *l <= at).last())
                .map_or(("(file)".to_string(), at), |(k, l)| (k, l));
            error(Some(line), &key, format!("does not parse: {}", first.kind))
        })?;
        let mut bundle = FluentBundle::new_concurrent(vec![id.clone()]);
        // No Unicode isolation marks around values: the English words stay byte for byte what
        // docs/protocol.md shows, and numbers read well in Arabic without them.
        bundle.set_use_isolating(false);
        if let Err(errors) = bundle.add_resource(resource) {
            return Err(error(None, "(file)", format!("{:?}", errors[0])));
        }
        Ok(Catalog {
            tag: tag.to_string(),
            id,
            bundle,
        })
    }

    fn format(&self, key: &str, args: &[(&str, Arg)]) -> Option<String> {
        let message = self.bundle.get_message(key)?;
        let pattern = message.value()?;
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            let value = match value {
                Arg::Num(n) => FluentValue::from(*n),
                Arg::Str(s) => FluentValue::from(s.clone()),
            };
            fluent_args.set(*name, value);
        }
        let mut errors = Vec::new();
        let text = self
            .bundle
            .format_pattern(pattern, Some(&fluent_args), &mut errors);
        Some(text.into_owned())
    }
}

/// A value for a placeable of a message.
#[derive(Debug, Clone)]
pub enum Arg {
    /// A number: selects a plural category, or an exact variant such as `[1]`.
    Num(i64),
    /// Words.
    Str(String),
}

impl From<i64> for Arg {
    fn from(n: i64) -> Arg {
        Arg::Num(n)
    }
}

impl From<usize> for Arg {
    fn from(n: usize) -> Arg {
        Arg::Num(n as i64)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Str(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Str(s)
    }
}

impl Catalogs {
    /// The shipped catalogs, English by default.
    pub fn shipped() -> Catalogs {
        Catalogs::build(Vec::new(), "en").expect("the shipped catalogs are complete")
    }

    /// The shipped catalogs and those of directory `dir` (every `<tag>.ftl` in it), with
    /// `default` the language of a request that asks for none the bot has.
    pub fn load(dir: Option<&Path>, default: &str) -> Result<Catalogs, CatalogError> {
        let mut extra = Vec::new();
        if let Some(dir) = dir {
            let unreadable = |e: std::io::Error| CatalogError {
                file: dir.display().to_string(),
                line: None,
                key: "(file)".into(),
                message: format!("cannot read the catalogs' directory: {e}"),
            };
            let mut paths: Vec<_> = std::fs::read_dir(dir)
                .map_err(unreadable)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "ftl"))
                .collect();
            paths.sort();
            for path in paths {
                let file = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| CatalogError {
                    file: file.clone(),
                    line: None,
                    key: "(file)".into(),
                    message: format!("cannot read: {e}"),
                })?;
                let tag = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                extra.push((tag, file, text));
            }
        }
        Catalogs::build(extra, default)
    }

    /// The shipped catalogs with `extra` ones (tag, file name, text) added or replacing them.
    pub fn build(
        extra: Vec<(String, String, String)>,
        default: &str,
    ) -> Result<Catalogs, CatalogError> {
        let mut sources: Vec<(String, String, String)> = SHIPPED
            .iter()
            .map(|(tag, file, text)| (tag.to_string(), file.to_string(), text.to_string()))
            .collect();
        for (tag, file, text) in extra {
            match sources.iter_mut().find(|s| s.0.eq_ignore_ascii_case(&tag)) {
                Some(shipped) => *shipped = (tag, file, text),
                None => sources.push((tag, file, text)),
            }
        }
        let english_keys = keys(SHIPPED[0].2);
        let mut catalogs = Vec::new();
        for (tag, file, text) in &sources {
            let catalog = Catalog::parse(tag, file, text)?;
            let english_line = |key: &str| {
                english_keys
                    .iter()
                    .find(|(k, _)| k == key)
                    .map_or(0, |(_, l)| *l)
            };
            for (key, _) in &english_keys {
                let has = catalog
                    .bundle
                    .get_message(key)
                    .is_some_and(|m| m.value().is_some());
                if !has {
                    return Err(CatalogError {
                        file: file.clone(),
                        line: None,
                        key: key.clone(),
                        message: format!(
                            "missing: every catalog needs each message of English (en.ftl line {})",
                            english_line(key)
                        ),
                    });
                }
            }
            catalogs.push(catalog);
        }
        let mut catalogs = Catalogs {
            catalogs,
            default: Lang(0),
        };
        catalogs.default = catalogs.find(default).ok_or_else(|| CatalogError {
            file: "visitors.language".into(),
            line: None,
            key: "visitors.language".into(),
            message: format!(
                "no catalog for {default:?}; there are {}",
                catalogs.tags().join(", ")
            ),
        })?;
        Ok(catalogs)
    }

    /// The language tags of the catalogs.
    pub fn tags(&self) -> Vec<&str> {
        self.catalogs.iter().map(|c| c.tag.as_str()).collect()
    }

    /// The catalog for `tag`: the same tag, else the same language (`nl-BE` → `nl`, `pt` →
    /// `pt-BR`).
    fn find(&self, tag: &str) -> Option<Lang> {
        let id: LanguageIdentifier = tag.trim().parse().ok()?;
        let same = |c: &Catalog| c.id == id;
        let language = |c: &Catalog| c.id.language == id.language;
        self.catalogs
            .iter()
            .position(same)
            .or_else(|| {
                self.catalogs
                    .iter()
                    .position(|c| language(c) && c.id.region.is_none() && c.id.script.is_none())
            })
            .or_else(|| self.catalogs.iter().position(language))
            .map(Lang)
    }

    /// The language to answer a request in `requested` (its `xml:lang`, if any): the nearest
    /// catalog, else the help line's default.
    pub fn choose(&self, requested: Option<&str>) -> Lang {
        requested
            .and_then(|tag| self.find(tag))
            .unwrap_or(self.default)
    }

    /// The help line's default language.
    pub fn default_lang(&self) -> Lang {
        self.default
    }
}

/// The words of one language: what the protocol speaks with.
#[derive(Clone)]
pub struct Words {
    catalogs: Arc<Catalogs>,
    lang: Lang,
}

impl fmt::Debug for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Words({})", self.tag())
    }
}

impl Words {
    /// Language `lang` of `catalogs` (the default when `lang` is not one of them).
    pub fn new(catalogs: &Arc<Catalogs>, lang: Lang) -> Words {
        let lang = if lang.0 < catalogs.catalogs.len() {
            lang
        } else {
            catalogs.default
        };
        Words {
            catalogs: Arc::clone(catalogs),
            lang,
        }
    }

    /// The words for a request in `requested` (`xml:lang`), see [`Catalogs::choose`].
    pub fn choose(catalogs: &Arc<Catalogs>, requested: Option<&str>) -> Words {
        Words::new(catalogs, catalogs.choose(requested))
    }

    /// The language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Its tag (`en`, `nl`, `ar` …), for `xml:lang`.
    pub fn tag(&self) -> &str {
        &self.catalogs.catalogs[self.lang.0].tag
    }

    /// Message `key`.
    pub fn get(&self, key: &str) -> String {
        self.with(key, &[])
    }

    /// Message `key` with its arguments. A key the catalog lacks (loading makes sure none does)
    /// is taken from English, and failing that is the key itself.
    pub fn with(&self, key: &str, args: &[(&str, Arg)]) -> String {
        let all = &self.catalogs.catalogs;
        all[self.lang.0]
            .format(key, args)
            .or_else(|| all.iter().find(|c| c.tag == "en")?.format(key, args))
            .unwrap_or_else(|| key.to_string())
    }
}

/// English words of the shipped catalogs (tests, and words for nobody in particular).
pub fn english() -> Words {
    static SHIPPED_CATALOGS: OnceLock<Arc<Catalogs>> = OnceLock::new();
    let catalogs = SHIPPED_CATALOGS.get_or_init(|| Arc::new(Catalogs::shipped()));
    Words::choose(catalogs, Some("en"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Arc<Catalogs> {
        Arc::new(Catalogs::shipped())
    }

    #[test]
    fn every_key_of_english_is_in_every_shipped_catalog() {
        let english = keys(SHIPPED[0].2);
        assert!(english.len() > 30, "{english:?}");
        for (tag, file, text) in SHIPPED {
            let theirs: Vec<String> = keys(text).into_iter().map(|(k, _)| k).collect();
            for (key, _) in &english {
                assert!(theirs.contains(key), "{file} ({tag}) lacks {key}");
            }
            for key in &theirs {
                assert!(
                    english.iter().any(|(k, _)| k == key),
                    "{file} has {key}, which English has not"
                );
            }
        }
        // And they load.
        assert_eq!(Catalogs::shipped().tags(), ["en", "nl", "ar"]);
    }

    #[test]
    fn a_language_is_matched_by_its_tag_and_falls_back_to_the_default() {
        let c = shipped();
        let tag = |req: Option<&str>| Words::choose(&c, req).tag().to_string();
        assert_eq!(tag(Some("nl")), "nl");
        assert_eq!(tag(Some("nl-BE")), "nl");
        assert_eq!(tag(Some("AR-eg")), "ar");
        assert_eq!(tag(Some("de")), "en");
        assert_eq!(tag(Some("not a tag!")), "en");
        assert_eq!(tag(None), "en");
        let dutch = Arc::new(Catalogs::build(Vec::new(), "nl").unwrap());
        assert_eq!(Words::choose(&dutch, Some("fr")).tag(), "nl");
    }

    #[test]
    fn arabic_plurals_follow_cldr() {
        let ar = Words::choose(&shipped(), Some("ar"));
        let closing = |m: i64| ar.with("place-closing", &[("minutes", m.into())]);
        assert!(closing(1).contains("دقيقة واحدة"), "{}", closing(1));
        assert!(closing(2).contains("دقيقتين"), "{}", closing(2));
        assert!(closing(3).contains("3 دقائق"), "{}", closing(3));
        assert!(closing(11).contains("11 دقيقة"), "{}", closing(11));
        assert!(closing(100).contains("100 دقيقة"), "{}", closing(100));
    }

    #[test]
    fn a_help_lines_catalog_adds_a_language_or_replaces_one() {
        let en = SHIPPED[0].2;
        let german = en.replace(
            "You left the queue.",
            "Du hast die Warteschlange verlassen.",
        );
        let c = Catalogs::build(
            vec![
                ("de".into(), "/etc/i18n/de.ftl".into(), german),
                (
                    "nl".into(),
                    "/etc/i18n/nl.ftl".into(),
                    en.replace("You left the queue.", "Weg."),
                ),
            ],
            "de",
        )
        .unwrap();
        let c = Arc::new(c);
        assert_eq!(c.tags(), ["en", "nl", "ar", "de"]);
        assert_eq!(
            Words::choose(&c, Some("de-AT")).get("left"),
            "Du hast die Warteschlange verlassen."
        );
        assert_eq!(Words::choose(&c, None).tag(), "de");
        assert_eq!(Words::choose(&c, Some("nl")).get("left"), "Weg.");
    }

    #[test]
    fn a_broken_catalog_is_refused_with_its_file_line_and_key() {
        let broken = format!("{}\nleft = You left {{ the queue.\n", SHIPPED[0].2);
        let e = Catalogs::build(vec![("de".into(), "de.ftl".into(), broken)], "en").unwrap_err();
        assert_eq!(e.file, "de.ftl");
        assert_eq!(e.key, "left");
        let line = SHIPPED[0].2.lines().count() + 2;
        assert_eq!(e.line, Some(line), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("de.ftl line {line}: left: does not parse")),
            "{e}"
        );

        let lacking: String = SHIPPED[0]
            .2
            .lines()
            .filter(|l| !l.starts_with("left ="))
            .map(|l| format!("{l}\n"))
            .collect();
        let e = Catalogs::build(vec![("de".into(), "de.ftl".into(), lacking)], "en").unwrap_err();
        assert_eq!((e.file.as_str(), e.key.as_str()), ("de.ftl", "left"));
        assert!(e.message.contains("missing"), "{e}");

        let e = Catalogs::build(Vec::new(), "fr").unwrap_err();
        assert!(e.to_string().contains("en, nl, ar"), "{e}");
    }
}
