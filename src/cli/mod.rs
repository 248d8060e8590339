//! Subcommands of the binary that live in their own files.

pub mod fgd;
pub mod import;
