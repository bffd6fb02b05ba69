//! madoguchi (窓口): a Japanese front-desk chat-bot for the JMA cybersecurity support
//! programme. A short tour:
//!
//! - [`core`]: the pure pipeline: normalise → tokenise (lindera) → classify → urgency
//!   → facts → rules → one dialogue turn. No I/O, no channel or SQL types.
//! - [`content`]: where the data files come from (compiled in, or a directory).
//! - [`engine`]: assembles a [`core::dialogue::Bot`] from content, validating it.
//! - [`faq`]: the FAQ export (md, html, csv/tsv, json) built from the bot's content.
//! - [`service`]: the application service every channel calls (`Service::handle`), and
//!   the staff desk (claim, reply, resolve, outbox); over [`store`] (sqlx, SQLite or
//!   PostgreSQL), [`redact`] (PII removed before anything is written) and [`spool`]
//!   (turns kept on disk while the database is down).
//!
//! Storage, channels, staff tools and the FAQ export sit around the core and talk to it
//! only through [`channels::Inbound`] / [`core::turn::Reply`] and the `Bot` methods.

pub mod accounts;
pub mod app;
pub mod channels;
pub mod config;
pub mod console;
pub mod content;
pub mod core;
pub mod engine;
pub mod faq;
pub mod redact;
pub mod server;
pub mod service;
pub mod spool;
pub mod store;
pub mod throttle;
