//! Files and directories stockdb writes inside the cluster's directory, which the service
//! account owns (the `postgres` user when stockdb runs as root). That account can put a
//! link where stockdb is about to write, so nothing here follows one: a link, a non-file
//! or a file of another account at a name stockdb writes is refused, naming it; a file is
//! written to a new name created exclusively (which never follows a link), owned through
//! its descriptor, and renamed over the old one; a mode is set through a descriptor
//! checked to be the directory that was looked at.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::EmbeddedError;

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let path = path.to_owned();
    move |source| EmbeddedError::Io { what, path, source }
}

fn planted(path: &Path, what: impl Into<String>) -> EmbeddedError {
    EmbeddedError::Planted {
        path: path.to_owned(),
        what: what.into(),
    }
}

/// Opens what `path` names without following a link at its last component, and checks
/// that the handle is the entry looked at (not one swapped in between) and of the kind
/// wanted.
fn open_entry(path: &Path, dir: bool) -> Result<(File, Metadata), EmbeddedError> {
    let seen = std::fs::symlink_metadata(path).map_err(io("reading", path))?;
    if seen.file_type().is_symlink() {
        return Err(planted(path, "it is a symbolic link"));
    }
    if dir != seen.is_dir() || (!dir && !seen.is_file()) {
        return Err(planted(
            path,
            if dir {
                "it is not a directory"
            } else {
                "it is not a regular file"
            },
        ));
    }
    let file = File::open(path).map_err(io("opening", path))?;
    let opened = file.metadata().map_err(io("reading", path))?;
    if (opened.dev(), opened.ino()) != (seen.dev(), seen.ino()) {
        return Err(planted(path, "it was replaced while stockdb opened it"));
    }
    Ok((file, opened))
}

/// Sets the permission bits of the directory `path`, which must not be a link.
pub(super) fn set_dir_mode(path: &Path, mode: u32) -> Result<(), EmbeddedError> {
    let (dir, _) = open_entry(path, true)?;
    dir.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io("setting permissions of", path))
}

/// A directory (not a link) owned by an expected account, whose files stockdb reads and
/// writes as that account's.
#[derive(Debug)]
pub(super) struct OwnedDir {
    path: PathBuf,
    uid: u32,
    gid: u32,
}

impl OwnedDir {
    /// `path`, refused unless it is a directory owned by `uid`.
    pub(super) fn open(path: &Path, uid: u32) -> Result<Self, EmbeddedError> {
        let (_, meta) = open_entry(path, true)?;
        if meta.uid() != uid {
            return Err(planted(
                path,
                format!(
                    "it is owned by uid {}, not by the account the server runs as (uid {uid})",
                    meta.uid()
                ),
            ));
        }
        Ok(Self {
            path: path.to_owned(),
            uid,
            gid: meta.gid(),
        })
    }

    /// The file `name` of this directory, which must be a regular file of its owner.
    fn checked(&self, name: &str) -> Result<(File, PathBuf), EmbeddedError> {
        let path = self.path.join(name);
        let (file, meta) = open_entry(&path, false)?;
        if meta.uid() != self.uid {
            return Err(planted(
                &path,
                format!("it is owned by uid {}, not by uid {}", meta.uid(), self.uid),
            ));
        }
        Ok((file, path))
    }

    /// The text of the file `name`.
    pub(super) fn read(&self, name: &str) -> Result<String, EmbeddedError> {
        let (mut file, path) = self.checked(name)?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(io("reading", &path))?;
        Ok(text)
    }

    /// Replaces the file `name` (if there is one, a regular file of the directory's
    /// owner) with `text`, mode 0600, owned by the directory's owner.
    pub(super) fn write(&self, name: &str, text: &str) -> Result<(), EmbeddedError> {
        let path = self.path.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(_) => drop(self.checked(name)?),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(io("reading", &path)(err)),
        }
        let new = self.path.join(format!(".{name}.stockdb-new"));
        // A leftover of a killed run (or a planted link): unlinking removes the name only.
        match std::fs::remove_file(&new) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("removing", &new)(err));
            }
            _ => {}
        }
        // Created exclusively: fails on any name that exists, a link included.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&new)
            .map_err(io("creating", &new))?;
        std::os::unix::fs::fchown(&file, Some(self.uid), Some(self.gid))
            .map_err(io("setting the owner of", &new))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io("writing", &new))?;
        std::fs::rename(&new, &path).map_err(io("replacing", &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().uid()
    }

    #[test]
    fn files_are_replaced_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let owned = OwnedDir::open(dir.path(), uid(dir.path())).unwrap();
        owned.write("a.conf", "one\n").unwrap();
        owned.write("a.conf", "two\n").unwrap();
        assert_eq!(owned.read("a.conf").unwrap(), "two\n");
        let mode = std::fs::metadata(dir.path().join("a.conf"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let target = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(target.path(), "precious").unwrap();
        std::os::unix::fs::symlink(target.path(), dir.path().join("b.conf")).unwrap();
        let err = owned.write("b.conf", "evil").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = owned.read("b.conf").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // A link planted at the name of the new file is removed, not followed.
        std::os::unix::fs::symlink(target.path(), dir.path().join(".a.conf.stockdb-new")).unwrap();
        owned.write("a.conf", "three\n").unwrap();
        assert_eq!(std::fs::read_to_string(target.path()).unwrap(), "precious");

        let linked_dir = dir.path().join("linked");
        std::os::unix::fs::symlink(std::env::temp_dir(), &linked_dir).unwrap();
        assert!(set_dir_mode(&linked_dir, 0o700).is_err());
        assert!(OwnedDir::open(&linked_dir, uid(dir.path())).is_err());
        let err = OwnedDir::open(dir.path(), uid(dir.path()) + 1).unwrap_err();
        assert!(err.to_string().contains("owned by uid"), "{err}");
    }
}
