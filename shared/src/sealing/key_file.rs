//! The embedded data directory's sealing key: `secrets.key`, created at first start (readable by its
//! owner only) and read at every start after.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{KEY_BYTES, LocalSealer, SealingKey};

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secrets.key";

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error(
        "the database holds sealed secrets but their key file {0} is missing: restore it from the \
         backup of this data directory (a new key cannot open them)"
    )]
    Missing(PathBuf),
    #[error("the key file {0} is not {KEY_BYTES} bytes of base64")]
    Malformed(PathBuf),
    #[error("cannot read the key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The sealer of the key file in `dir`. Without one, a new key is written, unless the database already
/// `holds_sealed_values`: then the key is lost, and making a new one would hide that.
pub fn load_or_create(dir: &Path, holds_sealed_values: bool) -> Result<LocalSealer, KeyFileError> {
    let path = dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).ok_or(KeyFileError::Malformed(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if holds_sealed_values {
                return Err(KeyFileError::Missing(path));
            }
            create(&path)
        }
        Err(source) => Err(KeyFileError::Read { path, source }),
    }
}

fn parse(text: &str) -> Option<LocalSealer> {
    let bytes = BASE64.decode(text.trim()).ok()?;
    SealingKey::from_bytes(&bytes).map(LocalSealer::new)
}

/// Writes a new key beside `path` and links it into place, so a reader never sees half a key and two
/// processes starting at once end up with the same one (the loser reads the winner's).
fn create(path: &Path) -> Result<LocalSealer, KeyFileError> {
    let write_error = |source| KeyFileError::Write {
        path: path.to_path_buf(),
        source,
    };
    let key: [u8; KEY_BYTES] = rand::random();
    let staged = path.with_extension(format!("key.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&staged).map_err(write_error)?;
    let written = writeln!(file, "{}", BASE64.encode(key))
        .and_then(|()| file.sync_all())
        .and_then(|()| match std::fs::hard_link(&staged, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            linked => linked,
        });
    let _ = std::fs::remove_file(&staged);
    written.map_err(write_error)?;
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).ok_or_else(|| KeyFileError::Malformed(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::secret_sealer::SecretSealer;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "alertwire-key-file-{name}-{}",
            uuid::Uuid::new_v4()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn the_key_is_created_once_owner_only_and_read_back() {
        let dir = temp_dir("created");
        let first = load_or_create(&dir, false).unwrap();
        let sealed = first.seal(b"token").await.unwrap();
        let again = load_or_create(&dir, true).unwrap();
        assert_eq!(again.open(&sealed).await.unwrap(), b"token");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no staged file left"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_key_for_sealed_values_is_an_error_not_a_new_key() {
        let dir = temp_dir("missing");
        let err = load_or_create(&dir, true).unwrap_err();
        assert!(matches!(err, KeyFileError::Missing(_)), "{err}");
        assert!(!dir.join(KEY_FILE).exists());
        std::fs::write(dir.join(KEY_FILE), "short").unwrap();
        assert!(matches!(
            load_or_create(&dir, false),
            Err(KeyFileError::Malformed(_))
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
