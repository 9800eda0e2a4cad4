//! The use cases: what each kseal verb means, in the library. A command in the binary parses its
//! arguments, calls one function here and writes the result through `fsio`; everything between
//! (recipient plans, the encrypt pipeline and its read-back check, opening, edits, re-keying)
//! lives in these modules so it can be read, tested and reused without the CLI.

pub mod check;
pub mod datakey;
pub mod edit;
pub mod extract;
pub mod groupkeys;
pub mod keyopen;
pub mod krm;
pub mod plan;
pub mod rekey;
pub mod seal;
pub mod set;
pub mod status;
