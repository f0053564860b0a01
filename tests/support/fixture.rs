//! The setup most integration tests repeat: a server, a database, and the bot's binary with time
//! limits long enough not to interfere (restarts, kills, outages are what those tests vary).

use std::path::PathBuf;

use helpim_bot::store::Store;

use super::{patient_config, BotProcess, TestDb, XmppServer};

/// A server, a database with its store, a temp folder and a patient config file in it.
pub struct Setup {
    /// The XMPP server.
    pub server: XmppServer,
    /// The database.
    pub db: TestDb,
    /// The store on it.
    pub store: Store,
    /// A folder for the config and the logs.
    pub dir: tempfile::TempDir,
    /// The bot's config file.
    pub config: PathBuf,
}

impl Setup {
    /// A fresh server and `db`, with the patient config.
    pub async fn patient(db: TestDb) -> Setup {
        let server = XmppServer::start();
        let store = db.store().await;
        let dir = tempfile::tempdir().unwrap();
        let config = patient_config(dir.path(), &server, &db);
        Setup {
            server,
            db,
            store,
            dir,
            config,
        }
    }

    /// The bot's binary on this setup, logging to `bot.log` in the folder, with `env` set.
    pub fn start_bot(&self, env: &[(&str, &str)]) -> BotProcess {
        BotProcess::start(&self.config, self.log(), env)
    }

    /// The bot's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("bot.log")
    }
}
