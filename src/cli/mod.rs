//! Subcommands of the binary that live in their own files.

pub mod bench;
pub mod fgd;
pub mod fuzz;
pub mod import;
