//! One bot at a time on a SQLite file: a lock file beside the database, held while the bot runs.
//! Two bots on one SQLite file would both own its rooms. (With PostgreSQL a second instance
//! waits as a standby instead: [`crate::active`].)

use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

/// For SQLite, takes the lock that lets one bot at a time run on the file: the guard holds it
/// until dropped. `None` for PostgreSQL.
pub fn lock_single_instance(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    if !url.starts_with("sqlite:") {
        return Ok(None);
    }
    let db = SqliteConnectOptions::from_str(url)?
        .get_filename()
        .to_path_buf();
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let path = db.with_file_name(name);
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another helpim-bot is already running on {} (it holds {}); with SQLite only one instance may run",
            db.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            anyhow::bail!("cannot lock {}: {e}", path.display())
        }
    }
}
