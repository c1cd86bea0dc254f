//! The `regex` crate as oci-spec sees it, backed by `regex-lite`.
//!
//! oci-spec compiles a single pattern, `^(\d+(-\d+)?)(,\d+(-\d+)?)*$`, to
//! check `process.execCPUAffinity`. The `regex` crate brings a full
//! automata engine and Unicode tables for it: 1.1 MiB of crust's 4.2 MiB
//! stripped binary and 7,000 of its 10,500 start-up relocations
//! (bench/results.md). `regex-lite` has the same API for the parts
//! oci-spec uses (`Regex`, `RegexBuilder`, `is_match`, captures) with
//! ASCII classes: `\d` is `[0-9]`, which is also what the runtime accepts
//! as a CPU number (init::scheduling parses ASCII digits), so a list with
//! other Unicode digits is now refused where the config is read instead
//! of later, in the container.
pub use regex_lite::*;
