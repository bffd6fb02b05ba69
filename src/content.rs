//! Content files (intents/, dictionaries/, rules/): where they come from. Either the
//! copy compiled into the binary or a live directory (`--content DIR`), so editors can
//! try a change without rebuilding. This is the only core-adjacent module that reads
//! files; everything it returns is plain text for the pure core to parse.

use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// One content file: its path relative to the content root, and its text.
#[derive(Debug, Clone)]
pub struct ContentFile {
    pub path: String,
    pub text: String,
}

/// All content files, sorted by path.
#[derive(Debug, Clone)]
pub struct Content {
    pub files: Vec<ContentFile>,
    /// Where they were read from (for messages): "<embedded>" or a directory.
    pub origin: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ContentLoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not valid UTF-8")]
    Utf8(PathBuf),
}

impl Content {
    /// The content compiled into this binary.
    pub fn embedded() -> Content {
        Content {
            files: embedded::EMBEDDED
                .iter()
                .map(|(p, t)| ContentFile {
                    path: p.to_string(),
                    text: t.to_string(),
                })
                .collect(),
            origin: "<embedded>".to_string(),
        }
    }

    /// Reads intents/, dictionaries/ and rules/ under `root`.
    pub fn from_dir(root: &Path) -> Result<Content, ContentLoadError> {
        let mut files = Vec::new();
        for dir in ["intents", "dictionaries", "rules"] {
            let d = root.join(dir);
            let rd = match std::fs::read_dir(&d) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(ContentLoadError::Io { path: d, source }),
            };
            for entry in rd {
                let entry = entry.map_err(|source| ContentLoadError::Io {
                    path: d.clone(),
                    source,
                })?;
                let p = entry.path();
                if !p.is_file() {
                    continue;
                }
                let bytes = std::fs::read(&p).map_err(|source| ContentLoadError::Io {
                    path: p.clone(),
                    source,
                })?;
                let text =
                    String::from_utf8(bytes).map_err(|_| ContentLoadError::Utf8(p.clone()))?;
                files.push(ContentFile {
                    path: format!("{dir}/{}", entry.file_name().to_string_lossy()),
                    text,
                });
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Content {
            files,
            origin: root.display().to_string(),
        })
    }

    /// Files under `dir/` whose name ends with `ext`.
    pub fn files_in<'a>(
        &'a self,
        dir: &'a str,
        ext: &'a str,
    ) -> impl Iterator<Item = &'a ContentFile> + 'a {
        self.files.iter().filter(move |f| {
            f.path.starts_with(dir) && f.path[dir.len()..].starts_with('/') && f.path.ends_with(ext)
        })
    }

    pub fn get(&self, path: &str) -> Option<&ContentFile> {
        self.files.iter().find(|f| f.path == path)
    }
}
